package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
	"github.com/pongscan/pongscan/pkg/followup"
	"github.com/pongscan/pongscan/pkg/handoff"
	"github.com/pongscan/pongscan/pkg/report"
	"github.com/pongscan/pongscan/pkg/scan"
)

// ScanOptions are the parsed flags and arguments of `pongscan scan`.
type ScanOptions struct {
	Files       []string
	Format      string
	DNSPorts    []uint16
	MaxDelay    time.Duration
	Idle        time.Duration
	MinPackets  int
	MaxFlows    int
	FlowTimeout time.Duration
	Progress    string
	Parallel    bool
	Shards      int
	// ServicePorts are extra responder ports; Runs the signature's
	// thresholds.
	ServicePorts []uint16
	Runs         detect.RunConfig
	// Filter keeps part of the input (--host, --port, --from, --to).
	Filter *scan.Filter
	// The next steps (followup.go): --extract, --html, --rrl.
	Extract string
	HTML    string
	RRL     bool
	// RRLSecondRead replays the what-if in the second read only, not in
	// the scan: the cross-check of the two (hidden flag).
	RRLSecondRead bool
	CPUProfile    string
	MemProfile    string
	// Batch and fleet scans (batch.go).
	Each       bool
	StreamBy   string
	StreamName string
	FilesFrom  string
	Null       bool // --files-from's paths end with NUL
	Verbose    bool
	Output     string
	CSVTable   string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Context is the command's context: a signal cancels it.
	Context context.Context
}

// NewScanCmd builds `pongscan scan`. runF replaces the scan in tests.
func NewScanCmd(stdin io.Reader, stdout, stderr io.Writer, runF func(*ScanOptions) error) *cobra.Command {
	def := detect.DefaultDNSPongConfig
	opts := &ScanOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	var ports, servicePorts []uint
	var ff filterFlags
	cmd := &cobra.Command{
		Use:   "scan [flags] FILE...",
		Short: "Scan captures for machine-pong loops",
		Long: `Scan reads one or more captures (pcap or pcapng, optionally compressed with
gzip, zstd, lz4, xz or bzip2, recognised by content; "-" reads standard
input) as one stream merged in timestamp order, so a loop that crosses
rotated files is one loop. Packets are named by their own file and 1-based
frame number, as Wireshark numbers them.

A directory is walked recursively: captures are recognised by content, other
files skipped and counted (-v names them). --files-from reads more paths.
Files of a stream are read in the order of their first packet, each opened
only when the merge reaches it. --each scans every file as a stream of its
own, --stream-by groups files into streams by directory or by a pattern of
the file name; streams are scanned independently, several at once. Inputs of
one stream that overlap in time give a warning.

Two detectors look at every UDP flow:

dns-pong (flows on a DNS port) finds the seed's loop by its trigger: a
genuine DNS query from client C port p to a server S, S's matching answer
(same ID and question), then, within --max-delay of that answer, a packet
from C:p to S whose payload is not DNS. The loop is every packet of that
5-tuple, both ways, from that packet on until a gap of --idle. It is
reported when it reaches --min-packets and both directions carry at least a
quarter of its packets; shorter ones are counted as bounces.

Both detectors also find loops whose start the capture does not show (lost,
before the capture, or one spoofed packet) by the loop signature, on any
ports (udp-pong takes every flow that is not DNS): a run of packets with
gaps under --idle is a loop when it has --loop-packets packets (and
--min-packets) at --loop-rate or faster, the quieter direction carries
--loop-share of them, --loop-alternation of them come from the other side
than the packet before, and on EACH side --loop-answers of the packets
answer: a response by content (DNS response, TFTP error, NTP server or
mode 6/7 response), a copy of the other side's last payload, or any
non-request from a responder port (echo 7, systat 11, daytime 13, QOTD 17,
chargen 19, time 37, and --service-port). A client's own requests never count, so fast
request/response traffic is not a loop. Each finding carries its evidence.

` + exitStatusHelp,
		Example: `  pongscan scan capture.pcap
  pongscan scan --format json rotated-*.pcap.gz > report.json
  pongscan scan --stream-by dir --format jsonl -o fleet.jsonl /srv/captures/
  pongscan scan --each sensor-a.pcap.zst sensor-b.pcap.zst
  tcpdump -i eth0 -w - udp port 53 | pongscan scan -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && opts.FilesFrom == "" {
				return errors.New("requires at least 1 arg(s), only received 0 (or --files-from)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			opts.Context = cmd.Context()
			opts.Format = strings.ToLower(opts.Format)
			opts.Progress = strings.ToLower(opts.Progress)
			switch opts.Format {
			case "table", "json", "csv", "jsonl":
			default:
				return fmt.Errorf("--format must be table, json, jsonl or csv, not %q", opts.Format)
			}
			if err := checkBatchFlags(opts); err != nil {
				return err
			}
			switch opts.Progress {
			case "auto", "always", "never":
			default:
				return fmt.Errorf("--progress must be auto, always or never, not %q", opts.Progress)
			}
			opts.DNSPorts = []uint16{53}
			for _, p := range ports {
				if p == 0 || p > 65535 {
					return fmt.Errorf("--dns-port %d is not a UDP port", p)
				}
				if !slices.Contains(opts.DNSPorts, uint16(p)) {
					opts.DNSPorts = append(opts.DNSPorts, uint16(p))
				}
			}
			for _, p := range servicePorts {
				if p == 0 || p > 65535 {
					return fmt.Errorf("--service-port %d is not a UDP port", p)
				}
				if !slices.Contains(opts.ServicePorts, uint16(p)) {
					opts.ServicePorts = append(opts.ServicePorts, uint16(p))
				}
			}
			r := opts.Runs
			if r.MinPackets < 2 || r.MinRate <= 0 || r.MinShare <= 0 || r.MinShare > 0.5 || r.MinAlternation <= 0 || r.MinAlternation > 1 || r.MinAnswers <= 0 || r.MinAnswers > 1 {
				return fmt.Errorf("--loop-packets must be at least 2, --loop-rate positive, --loop-share in (0, 0.5], --loop-alternation and --loop-answers in (0, 1]")
			}
			if opts.MaxDelay <= 0 || opts.Idle <= 0 || opts.FlowTimeout <= 0 {
				return fmt.Errorf("--max-delay, --idle and --flow-timeout must be positive")
			}
			if opts.MinPackets < 2 {
				return fmt.Errorf("--min-packets must be at least 2")
			}
			if opts.MaxFlows < 1 {
				return fmt.Errorf("--max-flows must be at least 1")
			}
			var err error
			if opts.Filter, err = ff.parse(); err != nil {
				return err
			}
			if err := checkFollowUp(opts); err != nil {
				return err
			}
			if opts.Shards < 0 {
				return fmt.Errorf("--shards must be at least 1 (or 0: one per core)")
			}
			if runF != nil {
				return runF(opts)
			}
			return runScan(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Format, "format", "f", "table", "output format: table, json, jsonl (JSON Lines with ECS field names: each stream's loops and inputs as soon as the stream is scanned, a summary last) or csv")
	f.UintSliceVar(&ports, "dns-port", nil, "extra UDP port served by DNS, besides 53 (repeatable)")
	f.UintSliceVar(&servicePorts, "service-port", nil, "extra responder service port, besides echo 7, systat 11, daytime 13, QOTD 17, chargen 19 and time 37: a side on it answers with every packet that is not a request (repeatable)")
	rd := detect.DefaultRunConfig
	f.IntVar(&opts.Runs.MinPackets, "loop-packets", rd.MinPackets, "loops found by their signature (no trigger): packets needed (--min-packets too)")
	f.Float64Var(&opts.Runs.MinRate, "loop-rate", rd.MinRate, "loops found by their signature: packets per second needed")
	f.Float64Var(&opts.Runs.MinShare, "loop-share", rd.MinShare, "loops found by their signature: share of the packets the quieter direction must carry")
	f.Float64Var(&opts.Runs.MinAlternation, "loop-alternation", rd.MinAlternation, "loops found by their signature: share of packets that must come from the other side than the packet before")
	f.Float64Var(&opts.Runs.MinAnswers, "loop-answers", rd.MinAnswers, "loops found by their signature: share of each side's packets that must answer the other")
	f.DurationVar(&opts.MaxDelay, "max-delay", def.MaxDelay, "longest gap between the trigger answer and the first non-DNS packet")
	f.DurationVar(&opts.Idle, "idle", def.Idle, "a gap this long ends a loop; a loop silent for less than this (and less than ten of its packet intervals, at least 0.25s) at the end of the input is still running")
	f.IntVar(&opts.MinPackets, "min-packets", def.MinPackets, "packets a loop needs to be reported; shorter ones are bounces")
	f.IntVar(&opts.MaxFlows, "max-flows", def.MaxFlows, "cap on the flows each detector tracks in a stream (DNS flows take about 170 bytes); beyond it the flow due to expire soonest is evicted, sparing flows in a loop")
	f.DurationVar(&opts.FlowTimeout, "flow-timeout", def.FlowTimeout, "keep a DNS flow with unanswered queries this long without traffic (other flows go after --idle)")
	f.BoolVar(&opts.Parallel, "parallel", true, "run the detector shards on goroutines of their own, beside the one reading the inputs; false: one goroutine does everything. Reports are identical either way")
	f.IntVar(&opts.Shards, "shards", 0, "detector shards: flows are split between them by a hash of their endpoints (0: one per usable core, or 1 with --parallel=false); reports are identical for any number")
	f.StringVar(&opts.Extract, "extract", "", "write each loop's trigger and packets to DIR/loop-N.pcapng (original link types and timestamps, each packet commented with its file#frame); reads the inputs a second time")
	f.StringVar(&opts.HTML, "html", "", "write a self-contained HTML report to FILE: capture timeline, each loop's timeline, ladder, payload, commands and rate-limiting what-if; reads the inputs a second time")
	f.BoolVar(&opts.RRL, "rrl", true, "replay each DNS loop's server responses through BIND, Knot and NSD response rate limiting (reads the inputs a second time when loops are found)")
	f.BoolVar(&opts.RRLSecondRead, "rrl-second-read", false, "replay the what-if in a second read of the inputs, not in the scan (a cross-check)")
	_ = f.MarkHidden("rrl-second-read")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile to this file")
	f.StringVar(&opts.MemProfile, "memprofile", "", "write a heap profile to this file at the end")
	_ = f.MarkHidden("cpuprofile")
	_ = f.MarkHidden("memprofile")
	f.StringVar(&opts.Progress, "progress", "auto", "progress on stderr: auto (when stderr is a terminal), always or never")
	f.StringSliceVar(&ff.hosts, "host", nil, "keep only UDP datagrams from or to this address or prefix (repeatable, or comma-separated); frame numbers stay those of the files")
	f.UintSliceVar(&ff.ports, "port", nil, "keep only UDP datagrams from or to this port (repeatable)")
	f.StringVar(&ff.from, "from", "", "keep packets from this time on: RFC 3339 (2016-02-08T13:00:02Z) or seconds since the capture's start (90, 1.5, 1m30s)")
	f.StringVar(&ff.to, "to", "", "keep packets before this time (exclusive, as editcap -B): RFC 3339 or seconds since the capture's start")
	completeValues(cmd, "format", formatValues)
	completeValues(cmd, "progress", progressValues)
	addBatchFlags(f, opts)
	completeValues(cmd, "csv-table", csvTableValues)
	completeValues(cmd, "stream-by", streamByValues)
	return cmd
}

func runScan(o *ScanOptions) error {
	// A signal from here on stops the scan, which reports what it read.
	graceful.Store(true)
	so := scan.Options{
		Detectors: Detectors,
		Config: detect.Config{
			DNSPorts: o.DNSPorts, ServicePorts: o.ServicePorts, MaxDelay: o.MaxDelay, Idle: o.Idle,
			MinPackets: o.MinPackets, MaxFlows: o.MaxFlows, FlowTimeout: o.FlowTimeout, Runs: o.Runs,
		},
		Frag:     decode.DefaultFragLimits,
		Shards:   o.Shards,
		Parallel: o.Parallel,
		Filter:   o.Filter,
	}
	if !o.Parallel && o.Shards == 0 {
		so.Shards = 1 // one goroutine: one shard is enough
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	showProgress := o.Progress == "always"
	if o.Progress == "auto" {
		if f, ok := o.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			showProgress = true
		}
	}
	var pr *progressLine
	if showProgress {
		pr = newProgressLine(o.Stderr)
		so.Progress = pr.update
	}
	if o.CPUProfile != "" {
		pf, err := os.Create(o.CPUProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	set, err := expandInputs(o)
	if err != nil {
		return err
	}
	// The follow-up's outputs are checked before a scan that may take an
	// hour, not after it.
	if err := prepareOutputs(o); err != nil {
		return err
	}
	out, err := openOutput(o)
	if err != nil {
		return err
	}
	defer out.abort()
	if o.RRL && !o.RRLSecondRead {
		// The what-if is replayed in the scan itself; only loops whose
		// lookback it no longer held go to the second read.
		so.WhatIf = followup.LiveWhatIf
	}
	var tlo *followup.TimelineObserver
	if o.HTML != "" {
		// The capture timeline is counted in the scan itself.
		tlo = followup.NewTimelineObserver(o.DNSPorts)
		so.Observe = tlo.Observe
	}
	var jl *jsonlStream
	if o.Format == "jsonl" {
		jl = newJSONLStream(out.w, o.Stderr)
		jl.follow = func(d *scan.StreamDone, k, first int) *followup.Result {
			rep := &report.Report{Loops: d.Loops, Inputs: d.Inputs}
			if !wantsFollowUp(o, rep.Loops) || ctx.Err() != nil {
				return nil
			}
			return followUp(ctx, o, rep, set.Streams[k:k+1], d.Errors, first, nil)
		}
		so.OnStream = jl.stream
	}
	res := scan.RunStreams(ctx, set.Streams, so)
	res.Report.Warnings = append(set.Warnings, res.Report.Warnings...)
	if pr != nil {
		pr.done()
	}
	res.Report.Tool = currentBuild().Tool
	handoff.Fill(res.Report)

	// The second read: each stream that holds loops, through the scan's
	// own path, for the what-if, --extract and the HTML ladders.
	var fr *followup.Result
	switch {
	case jl != nil:
		fr = jl.followed()
	case !res.Interrupted && wantsFollowUp(o, res.Report.Loops):
		var prog func(scan.Progress)
		var pr2 *progressLine
		if pr != nil {
			pr2 = newProgressLine(o.Stderr)
			pr2.label = fmt.Sprintf("following up %d loops: ", len(res.Report.Loops))
			prog = pr2.update
		}
		fr = followUp(ctx, o, res.Report, set.Streams, res.Errors, 1, prog)
		if pr2 != nil {
			pr2.done()
		}
	}
	followInterrupted := fr != nil && fr.Interrupted
	if fr != nil {
		res.Errors = append(res.Errors, fr.Errors...)
	}
	if followInterrupted {
		res.Report.Summary.FollowUpInterrupted = true
	}
	if o.MemProfile != "" {
		if pf, err := os.Create(o.MemProfile); err == nil {
			_ = pprof.WriteHeapProfile(pf)
			pf.Close()
		}
	}
	if o.Extract != "" && (res.Interrupted || followInterrupted) && len(res.Report.Loops) > 0 {
		// Said, not silent: the loops' files are made by the second
		// read, which a signal stops (its partial files are removed).
		fmt.Fprintf(o.Stderr, "pongscan: --extract %s: no loop written: the scan was interrupted\n", report.Escape(o.Extract))
	}
	switch {
	case o.HTML == "":
	case res.Interrupted || followInterrupted:
		fmt.Fprintf(o.Stderr, "pongscan: --html %s not written: the scan was interrupted\n", report.Escape(o.HTML))
	default:
		var loops []followup.Loop
		if fr != nil {
			loops = fr.Loops
		}
		if err := writeHTML(o.HTML, res.Report, tlo.Timeline(), loops, fr != nil && fr.Read); err != nil {
			res.Errors = append(res.Errors, fmt.Errorf("--html: %w", err))
		}
	}
	var p report.Printer
	switch o.Format {
	case "json":
		p = report.JSON()
	case "csv":
		p = report.CSV()
		if o.CSVTable == "inputs" {
			p = report.CSVInputs()
		}
	case "jsonl":
		p = jl
	default:
		p = report.TableWith(tableLayout(o.Stdout))
	}
	for _, w := range res.Report.Warnings {
		fmt.Fprintf(o.Stderr, "pongscan: warning: %s\n", report.Escape(w))
	}
	bw := bufio.NewWriter(out.w)
	perr := p.Print(bw, res.Report)
	if err := bw.Flush(); perr == nil {
		perr = err
	}
	if perr == nil {
		perr = out.commit()
	}
	for _, err := range res.Errors {
		fmt.Fprintf(o.Stderr, "pongscan: %s\n", report.Escape(err.Error()))
	}
	if perr != nil {
		fmt.Fprintf(o.Stderr, "pongscan: writing the report: %v\n", perr)
		return errTrouble
	}
	if res.Interrupted || followInterrupted {
		cause := context.Cause(ctx)
		var intr interruption
		if !errors.As(cause, &intr) {
			cause = ctx.Err()
		}
		if res.Interrupted {
			fmt.Fprintf(o.Stderr, "pongscan: %v: stopped reading %s; the report covers everything read before\n",
				cause, report.Escape(res.Stopped.String()))
		} else {
			fmt.Fprintf(o.Stderr, "pongscan: %v during the second read of the inputs (the what-if, --extract, --html): the report covers the whole scan; loops not followed up say so\n", cause)
		}
		return fmt.Errorf("%w", cause)
	}
	if len(res.Errors) > 0 {
		return errTrouble
	}
	if len(res.Report.Loops) > 0 {
		return errLoops
	}
	return nil
}
