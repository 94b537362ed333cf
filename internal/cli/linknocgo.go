//go:build !cgo

package cli

// cgoLinked tells whether the binary may link glibc through cgo; see
// linkcgo.go.
const cgoLinked = false
