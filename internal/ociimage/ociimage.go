package ociimage

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxJSON bounds the index, manifest and config blobs read into memory.
const maxJSON = 4 << 20

// Layout is an OCI image layout directory.
type Layout struct {
	dir string
}

// Open checks that dir is an OCI image layout.
func Open(dir string) (*Layout, error) {
	b, err := os.ReadFile(filepath.Join(dir, v1.ImageLayoutFile))
	if err != nil {
		return nil, fmt.Errorf("open layout %s: %w: %w", dir, ErrNotLayout, err)
	}
	var l v1.ImageLayout
	if err := json.Unmarshal(b, &l); err != nil || !strings.HasPrefix(l.Version, "1.") {
		return nil, fmt.Errorf("open layout %s: %w: oci-layout %q", dir, ErrNotLayout, b)
	}
	return &Layout{dir: dir}, nil
}

// blob opens the blob of d, checking its size and, when fully read, its
// digest.
func (l *Layout) blob(d v1.Descriptor) (io.ReadCloser, error) {
	alg, hexd, ok := strings.Cut(string(d.Digest), ":")
	if !ok || alg != "sha256" || len(hexd) != 64 || strings.Trim(hexd, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("blob %q: %w", d.Digest, ErrDigest)
	}
	f, err := os.Open(filepath.Join(l.dir, "blobs", alg, hexd))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return &verifier{f: f, r: io.LimitReader(f, d.Size+1), h: sha256.New(), want: hexd, size: d.Size}, nil
}

type verifier struct {
	f    *os.File
	r    io.Reader
	h    hash.Hash
	want string
	size int64
	n    int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		return n, fmt.Errorf("blob sha256:%s: %w: larger than %d bytes", v.want, ErrDigest, v.size)
	}
	if err == io.EOF {
		if v.n != v.size || hex.EncodeToString(v.h.Sum(nil)) != v.want {
			return n, fmt.Errorf("blob sha256:%s: %w", v.want, ErrDigest)
		}
	}
	return n, err
}

func (v *verifier) Close() error { return v.f.Close() }

func (l *Layout) readJSON(d v1.Descriptor, into any) error {
	if d.Size > maxJSON {
		return fmt.Errorf("blob %s: %d bytes is too large for %s", d.Digest, d.Size, d.MediaType)
	}
	r, err := l.blob(d)
	if err != nil {
		return err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return nil
}

// Image returns the manifest and config of the image named ref (the
// org.opencontainers.image.ref.name annotation, or the full
// "name:tag" some tools write). An empty ref selects the only image. An
// image index is resolved to the manifest for linux and this program's
// architecture.
func (l *Layout) Image(ref string) (v1.Manifest, v1.Image, error) {
	var idx v1.Index
	b, err := os.ReadFile(filepath.Join(l.dir, v1.ImageIndexFile))
	if err != nil {
		return v1.Manifest{}, v1.Image{}, fmt.Errorf("read index: %w: %w", ErrNotLayout, err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return v1.Manifest{}, v1.Image{}, fmt.Errorf("read index: %w: %w", ErrNotLayout, err)
	}
	var cands []v1.Descriptor
	for _, d := range idx.Manifests {
		name := d.Annotations[v1.AnnotationRefName]
		if ref == "" || name == ref || strings.HasSuffix(ref, ":"+name) {
			cands = append(cands, d)
		}
	}
	if len(cands) != 1 {
		return v1.Manifest{}, v1.Image{}, fmt.Errorf("image %q: %w (%d candidates among %d)", ref, ErrNoImage, len(cands), len(idx.Manifests))
	}
	d := cands[0]
	for range 4 { // nested indexes, bounded
		if d.MediaType != v1.MediaTypeImageIndex {
			break
		}
		var sub v1.Index
		if err := l.readJSON(d, &sub); err != nil {
			return v1.Manifest{}, v1.Image{}, err
		}
		found := false
		for _, m := range sub.Manifests {
			if m.Platform != nil && m.Platform.OS == "linux" && m.Platform.Architecture == runtime.GOARCH {
				d, found = m, true
				break
			}
		}
		if !found {
			return v1.Manifest{}, v1.Image{}, fmt.Errorf("image %q: %w for linux/%s", ref, ErrNoImage, runtime.GOARCH)
		}
	}
	if d.MediaType != v1.MediaTypeImageManifest {
		return v1.Manifest{}, v1.Image{}, fmt.Errorf("image %q: manifest %s: %w", ref, d.MediaType, ErrUnsupported)
	}
	var m v1.Manifest
	if err := l.readJSON(d, &m); err != nil {
		return v1.Manifest{}, v1.Image{}, err
	}
	var cfg v1.Image
	if err := l.readJSON(m.Config, &cfg); err != nil {
		return v1.Manifest{}, v1.Image{}, err
	}
	return m, cfg, nil
}

// Unpack writes the image named ref into dest, which must be an empty
// or missing directory, and returns its config.
func (l *Layout) Unpack(ctx context.Context, ref, dest string) (v1.Image, error) {
	m, cfg, err := l.Image(ref)
	if err != nil {
		return v1.Image{}, err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return v1.Image{}, fmt.Errorf("unpack: %w", err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return v1.Image{}, fmt.Errorf("unpack: %w", err)
	}
	defer root.Close()
	for i, layer := range m.Layers {
		if err := ctx.Err(); err != nil {
			return v1.Image{}, err
		}
		if err := l.apply(root, layer); err != nil {
			return v1.Image{}, fmt.Errorf("unpack layer %d (%s): %w", i, layer.Digest, err)
		}
	}
	return cfg, nil
}

func (l *Layout) apply(root *os.Root, d v1.Descriptor) error {
	r, err := l.blob(d)
	if err != nil {
		return err
	}
	defer r.Close()
	var tr io.Reader = r
	switch d.MediaType {
	case v1.MediaTypeImageLayer, "application/vnd.docker.image.rootfs.diff.tar":
	case v1.MediaTypeImageLayerGzip, "application/vnd.docker.image.rootfs.diff.tar.gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return err
		}
		defer zr.Close()
		tr = zr
	default:
		return fmt.Errorf("%s: %w", d.MediaType, ErrUnsupported)
	}
	if err := ApplyLayer(root, tr); err != nil {
		return err
	}
	// Read to the end so the digest is checked even after the tar's
	// end-of-archive blocks.
	_, err = io.Copy(io.Discard, r)
	return err
}

// ApplyLayer applies one uncompressed layer tar to root.
func ApplyLayer(root *os.Root, r io.Reader) error {
	tr := tar.NewReader(r)
	created := map[string]bool{} // paths this layer wrote, kept by an opaque whiteout
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name, ok := clean(h.Name)
		if !ok {
			return fmt.Errorf("layer entry %q: escapes the root", h.Name)
		}
		if name == "." {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		if base == ".wh..wh..opq" {
			if err := opaque(root, dir, created); err != nil {
				return err
			}
			continue
		}
		if victim, ok := strings.CutPrefix(base, ".wh."); ok {
			if err := root.RemoveAll(path.Join(dir, victim)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		created[name] = true
		mode := fs.FileMode(h.Mode) & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if fi, err := root.Lstat(name); err == nil && !fi.IsDir() {
				if err := root.RemoveAll(name); err != nil {
					return err
				}
			}
			if err := root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case tar.TypeReg:
			if err := replace(root, name); err != nil {
				return err
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := replace(root, name); err != nil {
				return err
			}
			if err := root.Symlink(h.Linkname, name); err != nil {
				return err
			}
			continue // no chmod or chown through a symlink
		case tar.TypeLink:
			target, ok := clean(h.Linkname)
			if !ok {
				return fmt.Errorf("layer entry %q: link target %q escapes the root", h.Name, h.Linkname)
			}
			if err := replace(root, name); err != nil {
				return err
			}
			if err := root.Link(target, name); err != nil {
				return err
			}
			continue
		default:
			// Devices, FIFOs and the rest: the runtimes provide /dev.
			delete(created, name)
			continue
		}
		if err := root.Lchown(name, h.Uid, h.Gid); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
	}
}

// clean makes a tar entry name relative to the root ("." for the root
// itself), and reports false for names that leave it.
func clean(name string) (string, bool) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}

// replace removes what is at name unless it is a directory, so that a
// file, link or symlink can take its place.
func replace(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return root.RemoveAll(name)
	}
	return root.Remove(name)
}

// opaque removes the children of dir that lower layers created.
func opaque(root *os.Root, dir string, created map[string]bool) error {
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		p := path.Join(dir, n)
		if !created[p] {
			if err := root.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return nil
}
