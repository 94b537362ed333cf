// Package synth builds synthetic packet captures for testing pongscan.
//
// It works in layers, each usable on its own:
//
//   - Payloads: DNSQuery, DNSResponse (answer, referral, NXDOMAIN, with
//     optional EDNS padding), FormErr (the 12-byte header-only FORMERR a
//     name server returns for bytes it cannot parse), TFTPError and NTP.
//   - Frames: a Datagram (UDP endpoints, payload, TTL, ID) becomes IPv4 or
//     IPv6 packets with IPPackets, fragmented to an MTU when needed, and
//     link-layer frames with Link.Frames: Ethernet (optionally 802.1Q or
//     QinQ tagged), Linux SLL (113), SLL2 (276), raw IP (101), BSD NULL (0)
//     and LOOP (108). Layers are serialized with gopacket where it can;
//     cooked and loopback headers are written by hand.
//   - Writers: WritePcap (microsecond or nanosecond, little- or big-endian,
//     snaplen), WritePcapng (several interfaces, each with its own link
//     type and if_tsresol) and Gzip. Little-endian classic pcap goes through
//     pcapgo; the rest is written by hand because pcapgo cannot express it.
//   - Scenarios: a Scenario scripts background DNS noise from many clients
//     (AddNoise), single exchanges (Exchange), arbitrary datagrams (Add) and
//     machine-pong loops (AddLoop), then renders them into time-ordered
//     Frames that remember which loop and role each belongs to. LoopTruth
//     computes a loop's expected report from the frames actually written.
//   - Ping-pongs: AddPingPong scripts any two UDP services answering each
//     other (the Loop DoS family: echo, chargen, daytime, QOTD, time, DNS,
//     TFTP, ntpd mode 7), each side a Responder (Echo, Chargen, Daytime,
//     QOTD, TimeProtocol, DNSError, TFTPErrorReply, NTPMode7Error, Fixed)
//     with a jittered Delay and a TTL, optionally started by one spoofed
//     packet and stopped by a count, a time, a lost packet or the end of
//     the capture window (SetWindow). AddPoll and Track script traffic
//     that must not be taken for a loop. FlowTruth computes a loop's or a
//     flow's truth, without a trigger, from the frames actually written.
//
// Samples returns the project's test captures (written to testdata/pcaps by
// cmd/gensamples) together with their truth; FamilySamples returns the
// loop-family captures of issue 9 (testdata/family, cmd/gensamples
// -family), loops without a captured trigger and traps, with truth in the
// acceptance "beyond" shape (FamilyTruth). Everything is deterministic:
// randomness comes from a math/rand/v2 PCG seeded per scenario, and no
// output depends on the clock, the host or map iteration order.
//
// A machine-pong loop, as scripted by AddLoop, is: a genuine query from the
// client C:p to the server S:53, S's answer about 0.1 ms later, the first
// non-DNS packet from C:p (a TFTP ERROR "RRQ must be sent first", because a
// TFTP server owns port p) about 1 ms after that, and then alternating
// FORMERR replies and non-DNS packets at a fixed interval. The loop stops
// after a given number of packets (an odd count ends with a client packet
// the server drops) or runs until a given time.
package synth
