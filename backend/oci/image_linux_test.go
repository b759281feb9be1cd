package oci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/backend/oci"
	"github.com/kavach-go/kavach/policy"
)

// layoutOf writes an OCI image layout whose one image, named ref, has
// one uncompressed layer holding root.
func layoutOf(t *testing.T, root, ref string) string {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(b)
			return err
		}
		return nil
	})
	if err != nil || tw.Close() != nil {
		t.Fatal(err)
	}
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
	cfg, _ := json.Marshal(v1.Image{})
	m := v1.Manifest{MediaType: v1.MediaTypeImageManifest, Config: blob(v1.MediaTypeImageConfig, cfg),
		Layers: []v1.Descriptor{blob(v1.MediaTypeImageLayer, layer.Bytes())}}
	m.SchemaVersion = 2
	mb, _ := json.Marshal(m)
	md := blob(v1.MediaTypeImageManifest, mb)
	md.Annotations = map[string]string{v1.AnnotationRefName: ref}
	idx := v1.Index{MediaType: v1.MediaTypeImageIndex, Manifests: []v1.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, v1.ImageIndexFile), ib, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, v1.ImageLayoutFile), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestImageLayout(t *testing.T) {
	for name := range runtimes(t) {
		t.Run(name, func(t *testing.T) {
			layout := layoutOf(t, busyboxRoot(t, true), "v1")
			if err := oci.New(oci.WithImageLayout(layout, "nope")).Available(t.Context()); err != nil {
				t.Fatalf("available: %v", err)
			}
			if _, err := oci.New(oci.WithImageLayout(layout, "nope")).Plan(t.Context(), policy.Basic()); err == nil {
				t.Errorf("plan with a missing image succeeded")
			}
			b := oci.New(oci.WithRuntime(name), oci.WithImageLayout(layout, "v1"))
			sb, err := b.Create(t.Context(), backend.Spec{ID: "image", Policy: policy.Basic()})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Destroy(context.Background())
			var out, errb bytes.Buffer
			p, err := sb.Start(t.Context(), &backend.Command{Args: []string{"/bin/sh", "-c", "echo from-image; ls /usr"},
				Env: []string{"PATH=/bin"}, Stdout: &out, Stderr: &errb})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			if out.String() != "from-image\n" || !strings.Contains(errb.String(), "/usr") {
				t.Errorf("stdout %q stderr %q", out.String(), errb.String())
			}
			if !strings.Contains(sb.Enforced().Root, "OCI layout") {
				t.Errorf("Enforced().Root = %q", sb.Enforced().Root)
			}
		})
	}
}
