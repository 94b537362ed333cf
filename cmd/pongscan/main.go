// Command pongscan finds machine-pong loops in packet captures.
package main

import (
	"os"

	"github.com/pongscan/pongscan/internal/cli"
)

func main() {
	os.Exit(int(cli.Run()))
}
