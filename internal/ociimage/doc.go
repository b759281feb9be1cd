// Package ociimage unpacks an image from a local OCI image layout (a
// directory with oci-layout, index.json and blobs/, as `skopeo copy ...
// oci:DIR` or `podman save --format oci-dir` write) into a root file
// system directory, so the oci and gvisor backends can run an image
// without a registry or a container engine.
//
// Every blob is checked against its digest and size. Layers (tar, or
// tar+gzip) are applied in order with the layout's whiteouts (.wh.NAME
// deletes NAME, .wh..wh..opq empties a directory of what lower layers put
// there). All file system operations go through an os.Root, so a
// malicious layer cannot write outside the destination, through ".."
// names or through symlinks it planted. Device nodes are skipped: the
// runtimes give containers their own /dev.
package ociimage
