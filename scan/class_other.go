//go:build !amd64 || purego

package scan

// classifyAVX2 says whether classify uses AVX2; never here.
var classifyAVX2 = false

// classify fills out[k] with the classes of the bytes b[64k:64k+64].
func classify(b []byte, out []classWords) { classifyGeneric(b, out) }
