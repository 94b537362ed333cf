//go:build cgo

package cli

// cgoLinked tells whether the binary may link glibc through cgo (it does
// unless built with CGO_ENABLED=0 or -tags netgo): its threads then come
// from pthread_create, each with a pthread stack of RLIMIT_STACK (8 MiB)
// and, at its first malloc or free, a glibc malloc arena of 64 MiB of
// address space.
const cgoLinked = true
