//go:build !linux

package cli

func prepareAddressSpace() {}
