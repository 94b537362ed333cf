package report

import "fmt"

// printFollowUp prints a loop's next steps in the table's details: the
// Wireshark filter and commands, the blocking rules, the rate-limiting
// what-if and the extracted file. Commands are printed verbatim (they
// are built from parsed values and quoted file names, see ShellQuote) and
// wrapped shell-safely.
func printFollowUp(w *errWriter, width int, l *Loop) {
	if ws := l.Wireshark; ws != nil {
		w.printf("  in Wireshark:\n")
		w.para(width, "    display filter: ", "      ", Verbatim(ws.DisplayFilter))
		if ws.Tshark != "" {
			w.command(width, "    ", Verbatim(ws.Tshark))
		}
		if ws.Editcap != "" {
			w.para(width, "    ", "      ", "the time window, every flow (then apply the filter):")
			w.command(width, "    ", Verbatim(ws.Editcap))
		}
		if d := ws.DecodeAs; d != nil {
			w.para(width, "    decode as: ", "      ", fmt.Sprintf("%s == %d -> %s (tshark %s); %s",
				Escape(d.Field), d.Value, Escape(d.Protocol), Verbatim(d.Option), Escape(d.Note)))
		}
		if ws.Note != "" {
			w.para(width, "    ", "      ", Escape(ws.Note))
		}
	}
	if m := l.Mitigation; m != nil {
		w.para(width, "  block it: ", "    ", Escape(m.Note))
		w.command(width, "    ", Verbatim(m.Nft))
		w.command(width, "    ", Verbatim(m.Iptables))
		w.para(width, "  capture it: ", "    ", "")
		w.command(width, "    ", Verbatim(m.Tcpdump))
	}
	if r := l.RRL; r != nil {
		switch {
		case len(r.Scenarios) == 0:
			w.para(width, "  rate limiting (RRL) what-if: ", "    ", Escape(r.Note))
		default:
			w.para(width, "  rate limiting (RRL) what-if: ", "    ", fmt.Sprintf("the server %s's %d responses to %s (%d of them the loop's) replayed through:",
				Escape(r.Server), r.Responses, Escape(r.Prefix), r.LoopResponses))
			if r.Note != "" {
				w.para(width, "    ", "      ", Escape(r.Note))
			}
			for _, s := range r.Scenarios {
				w.para(width, "    ", "        ", fmt.Sprintf("%s, %s: %s", Escape(s.Implementation), Escape(s.Setting), Escape(s.Verdict)))
			}
		}
	}
	if x := l.Extract; x != nil {
		if x.Error != "" {
			w.para(width, "  extract: ", "    ", Escape(x.Error))
		} else {
			what := fmt.Sprintf("%s (%d frames: %d of the trigger, %d of the loop's %d packets)", Escape(x.File), x.Frames, x.TriggerFrames, x.LoopFrames, x.LoopPackets)
			if !x.Complete {
				what += "; incomplete: the input changed since the scan"
			}
			w.para(width, "  extracted: ", "    ", what)
		}
	}
}
