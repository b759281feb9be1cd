package bundle

import (
	"context"

	"github.com/kavach-go/kavach/backend"
	"github.com/kavach-go/kavach/internal/ociimage"
)

// CheckImage reports whether the OCI image layout at dir holds the image
// ref, as an *backend.UnavailableError for kind when it does not.
func CheckImage(kind backend.Kind, dir, ref string) error {
	l, err := ociimage.Open(dir)
	if err != nil {
		return backend.Unavailable(kind, "image layout: %v", err)
	}
	if _, _, err := l.Image(ref); err != nil {
		return backend.Unavailable(kind, "image layout %s: %v", dir, err)
	}
	return nil
}

// UnpackImage returns a Config.Populate that unpacks image ref of the OCI
// image layout at dir.
func UnpackImage(dir, ref string) func(ctx context.Context, rootfs string) error {
	return func(ctx context.Context, rootfs string) error {
		l, err := ociimage.Open(dir)
		if err != nil {
			return err
		}
		_, err = l.Unpack(ctx, ref, rootfs)
		return err
	}
}
