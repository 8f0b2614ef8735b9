package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// generatedDirs hold the output of `go generate ./...` (ent first, then
// gqlgen: graph/generated.go, graph/ent.graphqls, graph/model/models_gen.go,
// graph/*.resolvers.go) next to a few hand-written files, which must come out
// of generation unchanged too.
var generatedDirs = []string{"ent", "graph"}

// sourceFiles lists the repository's files as git sees them: tracked, and
// new ones not ignored (work not committed yet is part of the tree being
// tested). Files deleted from the working tree are left out.
func sourceFiles(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || slices.Contains(files, f) {
			continue
		}
		if fi, err := os.Lstat(f); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatal("git ls-files listed nothing")
	}
	return files
}

// snapshot copies files into dir and returns the bytes of those under the
// generated directories, as they were when copied.
func snapshot(t *testing.T, files []string, dir string) map[string][]byte {
	t.Helper()
	before := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if inGenerated(f) {
			before[filepath.ToSlash(f)] = b
		}
	}
	return before
}

func inGenerated(path string) bool {
	for _, d := range generatedDirs {
		if strings.HasPrefix(filepath.ToSlash(path), d+"/") {
			return true
		}
	}
	return false
}

// goEnv returns `go env NAME`.
func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// stale compares the generated directories of dir with before and lists
// every file that generation changed, added or removed.
func stale(t *testing.T, dir string, before map[string][]byte) []string {
	t.Helper()
	after := map[string][]byte{}
	for _, d := range generatedDirs {
		err := filepath.WalkDir(filepath.Join(dir, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(path)
			after[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for f, b := range after {
		old, ok := before[f]
		switch {
		case !ok:
			out = append(out, f+" (generated, not in the tree)")
		case !bytes.Equal(old, b):
			out = append(out, f+" (differs)")
		}
	}
	for f := range before {
		if _, ok := after[f]; !ok {
			out = append(out, f+" (removed by generation)")
		}
	}
	slices.Sort(out)
	return out
}

// TestGeneratedCodeIsUpToDate regenerates ent and gqlgen output in a copy
// of the repository and fails, listing the stale files, when the committed
// output differs: schema/ or a *.graphqls changed without `go generate ./...`.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("regenerates all code: skipped with -short")
	}
	t.Parallel()
	dir := t.TempDir()
	before := snapshot(t, sourceFiles(t), dir)
	for _, want := range []string{"ent/client.go", "graph/generated.go", "graph/ent.graphqls", "graph/model/models_gen.go", "graph/schema.resolvers.go"} {
		if _, ok := before[want]; !ok {
			t.Fatalf("%s is not in the tree", want)
		}
	}

	// The generators are tools of the module: like the build's own
	// dependencies, which `go test` fetched, they come through the module
	// proxy once and from the module cache after that.
	download := exec.Command("go", "mod", "download")
	download.Dir = dir
	if out, err := download.CombinedOutput(); err != nil {
		t.Fatalf("go mod download: %v\n%s", err, out)
	}
	// -trimpath keeps the copy's directory out of the build cache's keys:
	// the packages compiled for the generators (ent, the GraphQL layer)
	// come from the cache when they are unchanged since an earlier run,
	// wherever that run's copy was.
	flags := strings.TrimSpace(goEnv(t, "GOFLAGS") + " -mod=mod -trimpath")
	cmd := exec.Command("go", "generate", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOFLAGS="+flags,
		"GOMODCACHE="+goEnv(t, "GOMODCACHE"),
		"GOPROXY=off", // everything needed is in the module cache now
		"GOWORK=off",
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go generate ./... in a copy of the tree: %v\n%s", err, out)
	}
	if files := stale(t, dir, before); len(files) > 0 {
		t.Fatalf("generated code is stale; run `go generate ./...` and commit the result:\n  %s", strings.Join(files, "\n  "))
	}
}
