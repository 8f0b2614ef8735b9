package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestEmbeddedFilesMatchManifest fails when a file of dist was edited,
// added or removed by hand: the manifest is what scripts/build-web wrote.
func TestEmbeddedFilesMatchManifest(t *testing.T) {
	manifest, err := Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest) == 0 {
		t.Fatal("the manifest lists no files")
	}
	seen := map[string]bool{}
	err = fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == ManifestName {
			return err
		}
		seen[path] = true
		b, err := fs.ReadFile(Files(), path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		switch want, ok := manifest[path]; {
		case !ok:
			t.Errorf("dist/%s is not in %s: rebuild with scripts/build-web", path, ManifestName)
		case hex.EncodeToString(sum[:]) != want:
			t.Errorf("dist/%s differs from what scripts/build-web built (its SHA-256 in %s): rebuild instead of editing it", path, ManifestName)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range manifest {
		if !seen[name] {
			t.Errorf("%s lists %s, which dist does not hold", ManifestName, name)
		}
	}
	for _, page := range []string{"playground.html", "console.html", "playground.js", "console.js"} {
		if !seen[page] {
			t.Errorf("dist has no %s", page)
		}
	}
}

// TestDistIsWhatTheSourcesBuild rebuilds dist from web/src into a
// temporary directory and compares byte for byte, so that the committed
// output cannot drift from its sources. It needs node and the packages of
// package-lock.json: with INTAKE_WEB_REBUILD=1 it runs scripts/build-web
// (npm ci, which may download them), otherwise it builds only when node
// and an installed web/node_modules matching the lock file are present,
// and says why it did not.
func TestDistIsWhatTheSourcesBuild(t *testing.T) {
	out := t.TempDir()
	var cmd *exec.Cmd
	switch {
	case os.Getenv("INTAKE_WEB_REBUILD") == "1":
		cmd = exec.Command("../scripts/build-web", out)
	default:
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("not rebuilt: no node on PATH (the manifest check still ran; INTAKE_WEB_REBUILD=1 forces a rebuild)")
		}
		if why := installedMatchesLock(); why != "" {
			t.Skipf("not rebuilt: %s (run scripts/build-web once, or set INTAKE_WEB_REBUILD=1)", why)
		}
		cmd = exec.Command("node", "build.mjs", out)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	built := listFiles(t, out)
	committed := listFiles(t, "dist")
	if strings.Join(built, "\n") != strings.Join(committed, "\n") {
		t.Fatalf("the build makes %q, dist holds %q: run scripts/build-web and commit web/dist", built, committed)
	}
	for _, name := range built {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join("dist", name))
		if !bytes.Equal(a, b) {
			t.Errorf("dist/%s differs from what the sources build: run scripts/build-web and commit web/dist", name)
		}
	}
}

// installedMatchesLock says why web/node_modules cannot stand for the
// lock file ("" when it can): npm records what it installed in
// node_modules/.package-lock.json, whose packages must be the lock's.
func installedMatchesLock() string {
	installed, err := os.ReadFile("node_modules/.package-lock.json")
	if err != nil {
		return "web/node_modules is not installed"
	}
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		return err.Error()
	}
	want, err := lockPackages(lock)
	if err != nil {
		return "package-lock.json: " + err.Error()
	}
	have, err := lockPackages(installed)
	if err != nil {
		return "node_modules/.package-lock.json: " + err.Error()
	}
	for path, p := range have {
		if w, ok := want[path]; !ok || w != p {
			return "web/node_modules differs from package-lock.json at " + path
		}
	}
	for path, p := range want {
		if _, ok := have[path]; !ok && !p.optional {
			return "web/node_modules lacks " + path
		}
	}
	return ""
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// lockPackage is what the rebuild check compares of an npm lock entry.
type lockPackage struct {
	version, integrity string
	optional           bool
}

// lockPackages reads the packages of an npm lock file (lockfileVersion 2
// or 3) by their node_modules path.
func lockPackages(b []byte) (map[string]lockPackage, error) {
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
			Optional  bool   `json:"optional"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, err
	}
	out := make(map[string]lockPackage, len(lock.Packages))
	for path, p := range lock.Packages {
		if path == "" {
			continue // the project itself
		}
		out[path] = lockPackage{version: p.Version, integrity: p.Integrity, optional: p.Optional}
	}
	return out, nil
}
