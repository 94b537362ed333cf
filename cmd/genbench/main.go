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
//
// With -many-loops N it writes instead a capture of nothing but N short
// seed-style loops, each on its own 5-tuple, -in-flight of them at once
// (internal/benchgen.ManyLoops; -packets, -qps, -clients and -loops do not
// apply):
//
//	go run ./cmd/genbench -many-loops 1000000 -loop-packets 60 -out /tmp/manyloops-1m.pcap
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
	fs.IntVar(&cfg.LoopClients, "loop-clients", 0, "draw the loops' clients from this many of the busiest (1: every loop on the busiest resolver; 0: from all clients)")
	fs.DurationVar(&cfg.LoopInterval, "loop-interval", 0, "each loop's round trip, client packet to client packet (0: random 1-1.5ms; 66.667us is 30,000 packets/s)")
	fs.DurationVar(&cfg.LoopEvery, "loop-every", 0, "trigger loop k at 10% of the capture + k times this (0: spread over 10-60%); without -loops, as many loops as fit")
	fs.Float64Var(&cfg.LoopShare, "loop-share", 0, "the most of the packets the loops may take, each running until near the capture's end (0: each loop at most 35% of the capture's duration, all at most 25% of its packets)")
	fs.Float64Var(&cfg.IPv6Share, "ipv6", 0.1, "share of IPv6 clients (negative: none)")
	many := fs.Int("many-loops", 0, "write only this many short loops, each on its own 5-tuple (see -in-flight, -pause)")
	inFlight := fs.Int("in-flight", 0, "with -many-loops: loops running at once (0: 256)")
	pause := fs.Duration("pause", 0, "with -many-loops: most time from a loop's end to the next trigger in its slot (0: 20ms)")
	quiet := fs.Bool("q", false, "print only the planted loops")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	loopsSet := false
	fs.Visit(func(f *flag.Flag) { loopsSet = loopsSet || f.Name == "loops" })
	if cfg.LoopEvery > 0 && !loopsSet {
		cfg.Loops = 0 // as many as fit
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: genbench -packets N -out FILE [-seed S] [-gzip] [-pcapng]")
		return 2
	}
	if cfg.Packets <= 0 {
		fmt.Fprintln(stderr, "genbench: -packets must be positive")
		return 2
	}
	if *many < 0 {
		fmt.Fprintln(stderr, "genbench: -many-loops must be positive")
		return 2
	}
	write := func(w io.Writer) (*benchgen.Stats, error) { return benchgen.Write(w, cfg) }
	if *many > 0 {
		m := benchgen.ManyLoops{
			Loops: *many, LoopPackets: cfg.LoopPackets, InFlight: *inFlight, Pause: *pause,
			LoopInterval: cfg.LoopInterval, Seed: cfg.Seed, IPv6Share: cfg.IPv6Share,
			Pcapng: cfg.Pcapng, Gzip: cfg.Gzip,
		}
		write = func(w io.Writer) (*benchgen.Stats, error) { return benchgen.WriteManyLoops(w, m) }
	}
	began := time.Now()
	st, err := generate(*out, stdout, write)
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
	fmt.Fprintf(stderr, "genbench: planted %d loops\n", st.Planted)
	if *many > 0 {
		fmt.Fprintf(stderr, "genbench: %d loop packets, each loop on its own 5-tuple (%d IPv6); the first %d:\n",
			st.LoopPackets, st.IPv6Clients, len(st.Loops))
	}
	for i, l := range st.Loops {
		fmt.Fprintf(stderr, "genbench: loop %d: client %s server %s, %d packets from %s to %s\n",
			i+1, l.Client, l.Server, l.Packets, l.First.Format("15:04:05.000000"), l.Last.Format("15:04:05.000000"))
	}
	return 0
}

func generate(out string, stdout io.Writer, write func(io.Writer) (*benchgen.Stats, error)) (*benchgen.Stats, error) {
	if out == "-" {
		return write(stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	st, err := write(f)
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
