// Package web holds the playground and the console that the server serves
// at / and /console. Their sources are in web/src; scripts/build-web builds
// them with pinned npm packages into web/dist, which is committed and
// embedded here, so that the binary serves every byte of both pages itself
// and a browser without internet access loads them.
package web

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed dist
var dist embed.FS

// ManifestName is the file in dist that lists the SHA-256 of every other
// file, as sha256sum prints them.
const ManifestName = "MANIFEST.sha256"

// Files returns the built files (the contents of web/dist).
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Manifest returns the manifest of Files: file name to hex SHA-256.
func Manifest() (map[string]string, error) {
	b, err := fs.ReadFile(Files(), ManifestName)
	if err != nil {
		return nil, err
	}
	return ParseManifest(b)
}

// ParseManifest reads a manifest in sha256sum's format ("<hex>  <name>").
func ParseManifest(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || name == "" {
			return nil, fmt.Errorf("%s line %d: %q is not \"<sha256>  <name>\"", ManifestName, n, sc.Text())
		}
		out[name] = sum
	}
	return out, sc.Err()
}
