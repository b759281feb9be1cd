package ociimage_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kavach-go/kavach/internal/ociimage"
)

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func layerTar(t testing.TB, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// writeLayout writes an OCI layout with one image named ref of the given
// layers (gzipped) and returns its directory.
func writeLayout(t testing.TB, ref string, layers ...[]byte) string {
	t.Helper()
	dir := t.TempDir()
	blob := func(mt string, b []byte) v1.Descriptor {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		p := filepath.Join(dir, "blobs", "sha256", h)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return v1.Descriptor{MediaType: mt, Digest: digest.Digest("sha256:" + h), Size: int64(len(b))}
	}
	cfg, _ := json.Marshal(v1.Image{Config: v1.ImageConfig{Env: []string{"PATH=/bin"}}})
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: blob(v1.MediaTypeImageConfig, cfg)}
	m.SchemaVersion = 2
	for _, l := range layers {
		m.Layers = append(m.Layers, blob(v1.MediaTypeImageLayerGzip, gz(l)))
	}
	mb, _ := json.Marshal(m)
	md := blob(v1.MediaTypeImageManifest, mb)
	md.Annotations = map[string]string{v1.AnnotationRefName: ref}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, v1.ImageIndexFile), ib, 0o644)
	os.WriteFile(filepath.Join(dir, v1.ImageLayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return dir
}

func TestUnpack(t *testing.T) {
	base := layerTar(t, []entry{
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/tool", typ: tar.TypeReg, body: "#!tool", mode: 0o755},
		{name: "etc/a", typ: tar.TypeReg, body: "a"},
		{name: "etc/b", typ: tar.TypeReg, body: "b"},
		{name: "d/x", typ: tar.TypeReg, body: "x"},
		{name: "bin/alias", typ: tar.TypeSymlink, link: "tool"},
		{name: "bin/hard", typ: tar.TypeLink, link: "bin/tool"},
	})
	top := layerTar(t, []entry{
		{name: "etc/.wh.a", typ: tar.TypeReg},
		{name: "d/y", typ: tar.TypeReg, body: "y"},
		{name: "d/.wh..wh..opq", typ: tar.TypeReg},
		{name: "etc/b", typ: tar.TypeReg, body: "b2"},
	})
	l, err := ociimage.Open(writeLayout(t, "latest", base, top))
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "rootfs")
	cfg, err := l.Unpack(t.Context(), "example.com/img:latest", dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Config.Env) != 1 {
		t.Errorf("config %+v", cfg.Config)
	}
	want := map[string]string{"bin/tool": "#!tool", "bin/alias": "#!tool", "bin/hard": "#!tool", "etc/b": "b2", "d/y": "y"}
	for p, body := range want {
		if b, err := os.ReadFile(filepath.Join(dest, p)); err != nil || string(b) != body {
			t.Errorf("%s = %q, %v; want %q", p, b, err, body)
		}
	}
	for _, gone := range []string{"etc/a", "d/x"} {
		if _, err := os.Lstat(filepath.Join(dest, gone)); err == nil {
			t.Errorf("%s survived its whiteout", gone)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "bin/tool")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/tool mode %v, %v", fi.Mode(), err)
	}
}

func TestUnpackRefused(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name   string
		layers [][]byte
		ref    string
		want   error
	}{
		{"dotdot", [][]byte{layerTar(t, []entry{{name: "../../escape", typ: tar.TypeReg, body: "x"}})}, "", nil},
		{"through symlink", [][]byte{layerTar(t, []entry{
			{name: "evil", typ: tar.TypeSymlink, link: outside},
			{name: "evil/planted", typ: tar.TypeReg, body: "x"},
		})}, "", nil},
		{"hard link out", [][]byte{layerTar(t, []entry{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}})}, "", nil},
		{"wrong ref", [][]byte{layerTar(t, nil)}, "other", ociimage.ErrNoImage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ociimage.Open(writeLayout(t, "latest", tc.layers...))
			if err != nil {
				t.Fatal(err)
			}
			_, err = l.Unpack(t.Context(), tc.ref, filepath.Join(t.TempDir(), "rootfs"))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("unpack = %v, want an error (%v)", err, tc.want)
			}
			if es, _ := os.ReadDir(outside); len(es) != 0 {
				t.Errorf("wrote outside the root: %v", es)
			}
		})
	}
}

func TestDigestChecked(t *testing.T) {
	dir := writeLayout(t, "latest", layerTar(t, []entry{{name: "f", typ: tar.TypeReg, body: "original"}}))
	l, err := ociimage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := l.Image("")
	if err != nil {
		t.Fatal(err)
	}
	// Replace the layer blob with another of the same size.
	p := filepath.Join(dir, "blobs", "sha256", m.Layers[0].Digest.Encoded())
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0xff
	os.WriteFile(p, b, 0o644)
	if _, err := l.Unpack(t.Context(), "", filepath.Join(t.TempDir(), "rootfs")); !errors.Is(err, ociimage.ErrDigest) {
		t.Errorf("unpack of a tampered layer = %v, want ErrDigest", err)
	}
}

func TestNotLayout(t *testing.T) {
	if _, err := ociimage.Open(t.TempDir()); !errors.Is(err, ociimage.ErrNotLayout) {
		t.Errorf("Open(empty dir) = %v", err)
	}
}

func FuzzApplyLayer(f *testing.F) {
	f.Add(layerTar(f, []entry{{name: "a/b", typ: tar.TypeReg, body: "x"}, {name: "a/.wh.b", typ: tar.TypeReg}}))
	f.Add(layerTar(f, []entry{{name: "s", typ: tar.TypeSymlink, link: "/"}, {name: "s/x", typ: tar.TypeReg}}))
	f.Add(layerTar(f, []entry{{name: "../x", typ: tar.TypeReg}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		dest := filepath.Join(parent, "root")
		if err := os.Mkdir(dest, 0o755); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(dest)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		_ = ociimage.ApplyLayer(root, bytes.NewReader(b))
		es, _ := os.ReadDir(parent)
		if len(es) != 1 {
			t.Fatalf("layer wrote beside the root: %v", es)
		}
	})
}
