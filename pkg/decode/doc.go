// Package decode turns captured frames into UDP datagrams and judges their
// payloads.
//
// Decoder peels link layers (Ethernet with 802.1Q/QinQ tags, MPLS labels
// and PPPoE sessions, Linux cooked SLL and SLL2, raw IP, BSD NULL and LOOP,
// PPP, Cisco HDLC, 802.11 data with LLC/SNAP, bare or under radiotap, and
// NFLOG, PKTAP and PPI around those), IPv4 and IPv6 (extension headers
// skipped) and UDP by hand, reassembling IP fragments within fixed limits. It
// allocates nothing per frame: a Packet borrows its payload from the frame.
// TCP and other protocols are counted, not analysed; unknown link types are
// counted per type.
//
// ClassifyDNS decides whether a payload is a DNS message with
// golang.org/x/net/dns/dnsmessage, which walks the caller's bytes without
// allocating and distrusts header counts. A payload cut by the snap length
// is Truncated, never NotDNS. ClassifyPayload names what a non-DNS payload
// is (TFTP, NTP, text, binary) for reports.
//
// ClassifyMsg runs on every packet a loop detector follows, allocating
// nothing: it names a payload's protocol (DNS, TFTP, NTP, text, binary),
// its role (request, answer, a transfer's progress) and a type signature
// that repeats when the messages of a loop do, though their bytes change.
// Its checks, and ClassifyPayload's, are structural: TFTP by opcode and
// layout (an ERROR's message may hold any byte but NUL), NTP modes 1-5 by
// a sane header and ntpd's lengths, modes 6 and 7 by ntpd's ntpq and
// ntpdc layouts, DNS (in ClassifyMsg) by a whole message, text by its
// characters. Both try them in one documented order, so they agree on
// what is not DNS.
package decode
