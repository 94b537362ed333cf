// Package decode turns captured frames into UDP datagrams and judges their
// payloads.
//
// Decoder peels link layers (Ethernet with 802.1Q/QinQ tags, Linux cooked
// SLL and SLL2, raw IP, BSD NULL and LOOP), IPv4 and IPv6 (extension headers
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
package decode
