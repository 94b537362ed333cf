package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
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
	CPUProfile  string
	MemProfile  string
	// Batch and fleet scans (batch.go).
	Each       bool
	StreamBy   string
	StreamName string
	FilesFrom  string
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
	var ports []uint
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

A loop starts with a trigger: a genuine DNS query from client C port p to a
server S on a DNS port, S's matching answer (same ID and question), then,
within --max-delay of that answer, a packet from C:p to S whose payload is
not DNS. The loop is every packet of that 5-tuple, both ways, from that
packet on until a gap of --idle. It is reported when it reaches
--min-packets and both directions carry at least a quarter of its packets;
shorter ones are counted as bounces.

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
				opts.DNSPorts = append(opts.DNSPorts, uint16(p))
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
	f.DurationVar(&opts.MaxDelay, "max-delay", def.MaxDelay, "longest gap between the trigger answer and the first non-DNS packet")
	f.DurationVar(&opts.Idle, "idle", def.Idle, "a gap this long ends a loop; a loop is still running if its last packet is closer than this to the end of the input")
	f.IntVar(&opts.MinPackets, "min-packets", def.MinPackets, "packets a loop needs to be reported; shorter ones are bounces")
	f.IntVar(&opts.MaxFlows, "max-flows", def.MaxFlows, "cap on the flows each detector tracks in a stream (DNS flows take about 170 bytes); beyond it the flow due to expire soonest is evicted, sparing flows in a loop")
	f.DurationVar(&opts.FlowTimeout, "flow-timeout", def.FlowTimeout, "keep a DNS flow with unanswered queries this long without traffic (other flows go after --idle)")
	f.BoolVar(&opts.Parallel, "parallel", true, "run the detector shards on goroutines of their own, beside the one reading the inputs; false: one goroutine does everything. Reports are identical either way")
	f.IntVar(&opts.Shards, "shards", 0, "detector shards: flows are split between them by a hash of their endpoints (0: one per usable core, or 1 with --parallel=false); reports are identical for any number")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile to this file")
	f.StringVar(&opts.MemProfile, "memprofile", "", "write a heap profile to this file at the end")
	_ = f.MarkHidden("cpuprofile")
	_ = f.MarkHidden("memprofile")
	f.StringVar(&opts.Progress, "progress", "auto", "progress on stderr: auto (when stderr is a terminal), always or never")
	addBatchFlags(f, opts)
	return cmd
}

func runScan(o *ScanOptions) error {
	so := scan.Options{
		Detectors: Detectors,
		Config: detect.Config{
			DNSPorts: o.DNSPorts, MaxDelay: o.MaxDelay, Idle: o.Idle, MinPackets: o.MinPackets,
			MaxFlows: o.MaxFlows, FlowTimeout: o.FlowTimeout,
		},
		Frag:     decode.DefaultFragLimits,
		Shards:   o.Shards,
		Parallel: o.Parallel,
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
		pr = &progressLine{w: o.Stderr}
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
	out, err := openOutput(o)
	if err != nil {
		return err
	}
	defer out.abort()
	var jl *jsonlStream
	if o.Format == "jsonl" {
		jl = newJSONLStream(out.w, o.Stderr)
		so.OnStream = jl.stream
	}
	res := scan.RunStreams(ctx, set.Streams, so)
	res.Report.Warnings = append(set.Warnings, res.Report.Warnings...)
	if o.MemProfile != "" {
		if pf, err := os.Create(o.MemProfile); err == nil {
			_ = pprof.WriteHeapProfile(pf)
			pf.Close()
		}
	}
	if pr != nil {
		pr.done()
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
		p = report.Table()
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
	if res.Interrupted {
		cause := context.Cause(ctx)
		var intr interruption
		if !errors.As(cause, &intr) {
			cause = ctx.Err()
		}
		fmt.Fprintf(o.Stderr, "pongscan: %v: stopped reading at %s; the report covers everything read before\n",
			cause, report.Escape(res.Stopped.String()))
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

// progressLine rewrites one line on stderr.
type progressLine struct {
	w     io.Writer
	shown bool
}

func (p *progressLine) update(s scan.Progress) {
	secs := s.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	rate := float64(s.Bytes) / secs
	var b strings.Builder
	fmt.Fprintf(&b, "\r%s read, %d packets, %.1f MB/s, %.0f packets/s", mb(s.Bytes), s.Packets, rate/1e6, float64(s.Packets)/secs)
	if s.TotalBytes > 0 && s.Bytes <= s.TotalBytes {
		pct := 100 * float64(s.Bytes) / float64(s.TotalBytes)
		fmt.Fprintf(&b, ", %.0f%% of %s", pct, mb(s.TotalBytes))
		if rate > 0 {
			eta := time.Duration(float64(s.TotalBytes-s.Bytes) / rate * float64(time.Second))
			fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
		}
	}
	b.WriteString("\x1b[K")
	fmt.Fprint(p.w, b.String())
	p.shown = true
}

func (p *progressLine) done() {
	if p.shown {
		fmt.Fprint(p.w, "\n")
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
