// Command genbench streams a large synthetic capture of an authoritative
// DNS server, with a few machine-pong loops planted, for benchmarking
// pongscan against the disk:
//
//	go run ./cmd/genbench -packets 10000000 -out /tmp/bench-10m.pcap [-seed 1] [-gzip]
//
// It writes with bounded memory (see internal/benchgen), the same bytes
// for the same flags, into a temporary file renamed into place when
// complete, and prints what it wrote and the planted loops' endpoints on
// standard error. "-out -" writes to standard output.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pongscan/pongscan/internal/benchgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("genbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg benchgen.Config
	fs.IntVar(&cfg.Packets, "packets", 1000000, "number of packets to write")
	out := fs.String("out", "", "output file (\"-\" for standard output)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	fs.BoolVar(&cfg.Gzip, "gzip", false, "compress the output with gzip")
	fs.BoolVar(&cfg.Pcapng, "pcapng", false, "write pcapng instead of classic pcap")
	fs.Float64Var(&cfg.QPS, "qps", benchgen.DefaultQPS, "mean queries per second of capture time")
	fs.IntVar(&cfg.Clients, "clients", benchgen.DefaultClients, "distinct client addresses")
	fs.IntVar(&cfg.Loops, "loops", benchgen.DefaultLoops, "machine-pong loops to plant (negative: none)")
	fs.IntVar(&cfg.LoopPackets, "loop-packets", 0, "packets per loop (0: random 2000-4998)")
	fs.Float64Var(&cfg.IPv6Share, "ipv6", 0.1, "share of IPv6 clients (negative: none)")
	quiet := fs.Bool("q", false, "print only the planted loops")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: genbench -packets N -out FILE [-seed S] [-gzip] [-pcapng]")
		return 2
	}
	if cfg.Packets <= 0 {
		fmt.Fprintln(stderr, "genbench: -packets must be positive")
		return 2
	}
	began := time.Now()
	st, err := generate(*out, stdout, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "genbench: %v\n", err)
		return 1
	}
	if !*quiet {
		capSecs := st.End.Sub(st.Start).Seconds()
		fmt.Fprintf(stderr, "genbench: wrote %d packets (%.1f MB of frames, %.1f MB pcap before compression) to %s in %.1fs\n",
			st.Packets, float64(st.Bytes)/1e6, float64(st.FileBytes)/1e6, *out, time.Since(began).Seconds())
		fmt.Fprintf(stderr, "genbench: %.1f s of capture from %s, %.0f queries/s; %d queries from %d clients (%d IPv6), %.1f%% with EDNS\n",
			capSecs, st.Start.Format(time.RFC3339), float64(st.Queries)/max(capSecs, 1e-9),
			st.Queries, st.Clients, st.IPv6Clients, 100*float64(st.EDNS)/float64(max(st.Queries, 1)))
		fmt.Fprintf(stderr, "genbench: answers %d, nodata %d, referrals %d, nxdomain %d, unanswered %d; at most %d packets pending\n",
			st.Answers, st.NoData, st.Referrals, st.NXDomain, st.Unanswered, st.MaxPending)
	}
	fmt.Fprintf(stderr, "genbench: planted %d loops\n", len(st.Loops))
	for i, l := range st.Loops {
		fmt.Fprintf(stderr, "genbench: loop %d: client %s server %s, %d packets from %s to %s\n",
			i+1, l.Client, l.Server, l.Packets, l.First.Format("15:04:05.000000"), l.Last.Format("15:04:05.000000"))
	}
	return 0
}

func generate(out string, stdout io.Writer, cfg benchgen.Config) (*benchgen.Stats, error) {
	if out == "-" {
		return benchgen.Write(stdout, cfg)
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	st, err := benchgen.Write(f, cfg)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return st, nil
}
