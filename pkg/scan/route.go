package scan

import (
	"encoding/binary"
	"math/bits"

	"github.com/pongscan/pongscan/pkg/decode"
	"github.com/pongscan/pongscan/pkg/detect"
)

// router picks a flow's shard from its endpoints' 16-byte addresses (as
// two big-endian halves) and ports: each endpoint is mixed on its own and
// the two are added, so both directions of a flow get the same shard, and
// the sum is mapped onto [0, n) by a multiply (Lemire's range reduction),
// even for any n. The hash is fixed (no seed): sharding must not vary from
// run to run.
//
// With a what-if in the scan (Options.WhatIf), a datagram with a DNS port
// on either side is routed by its endpoints' prefixes (a /24, a /56)
// instead: every flow between a server and a client prefix then meets in
// one shard, where the what-if replays that server's responses to that
// prefix in order, as one replay of them all would.
type router struct {
	n   uint64
	dns *detect.PortSet // DNS ports, when flows on them go by prefixes
}

// prefixMix mixes an address's prefix (a /24 of IPv4, a /56 of IPv6) as
// endpointMix mixes an endpoint.
func prefixMix(hi, lo uint64) uint64 {
	if hi == 0 && lo>>32 == 0xffff {
		return endpointMix(0, lo&^0xff, 0)
	}
	return endpointMix(hi&^0xff, 0, 0)
}

func endpointMix(hi, lo uint64, port uint16) uint64 {
	h, l := bits.Mul64(hi^0x9e3779b97f4a7c15, lo^uint64(port)<<48^0xbf58476d1ce4e5b9)
	return h ^ l
}

func (r router) of(a, b uint64) int {
	s, _ := bits.Mul64(a+b, r.n)
	return int(s)
}

// shardOf is the shard of a decoded datagram's flow.
func (r router) shardOf(p *detect.Packet) int {
	shi, slo := decode.AddrWords(p.Src.Addr())
	dhi, dlo := decode.AddrWords(p.Dst.Addr())
	if r.dns != nil && (r.dns.Has(p.Src.Port()) || r.dns.Has(p.Dst.Port())) {
		return r.of(prefixMix(shi, slo), prefixMix(dhi, dlo))
	}
	return r.of(endpointMix(shi, slo, p.Src.Port()), endpointMix(dhi, dlo, p.Dst.Port()))
}

// fastRoute finds the shard of a plain Ethernet frame carrying an
// unfragmented UDP datagram in IPv4 (no options) or IPv6 (no extension
// headers) straight from its bytes, as shardOf would from the decoded
// datagram. It reports false for every other frame: those are decoded by
// every shard to be routed.
func (r router) fastRoute(link uint32, data []byte) (int, bool) {
	if link != decode.LinkEthernet || len(data) < 14+40+8 {
		return 0, false
	}
	be := binary.BigEndian
	ip := data[14:]
	switch be.Uint16(data[12:14]) {
	case 0x0800:
		// Version 4, 20-byte header, UDP, neither more fragments nor an
		// offset.
		if ip[0] != 0x45 || ip[9] != 17 || be.Uint16(ip[6:8])&0x3fff != 0 {
			return 0, false
		}
		src, dst := uint64(be.Uint32(ip[12:16])), uint64(be.Uint32(ip[16:20]))
		sp, dp := be.Uint16(ip[20:22]), be.Uint16(ip[22:24])
		if decode.TunnelPort(dp) {
			return 0, false // routed by the inner datagram, once decoded
		}
		if r.dns != nil && (r.dns.Has(sp) || r.dns.Has(dp)) {
			return r.of(prefixMix(0, 0xffff<<32|src), prefixMix(0, 0xffff<<32|dst)), true
		}
		return r.of(endpointMix(0, 0xffff<<32|src, sp), endpointMix(0, 0xffff<<32|dst, dp)), true
	case 0x86dd:
		if ip[0]>>4 != 6 || ip[6] != 17 {
			return 0, false
		}
		sp, dp := be.Uint16(ip[40:42]), be.Uint16(ip[42:44])
		if decode.TunnelPort(dp) {
			return 0, false
		}
		if r.dns != nil && (r.dns.Has(sp) || r.dns.Has(dp)) {
			return r.of(prefixMix(be.Uint64(ip[8:16]), be.Uint64(ip[16:24])), prefixMix(be.Uint64(ip[24:32]), be.Uint64(ip[32:40]))), true
		}
		return r.of(endpointMix(be.Uint64(ip[8:16]), be.Uint64(ip[16:24]), sp),
			endpointMix(be.Uint64(ip[24:32]), be.Uint64(ip[32:40]), dp)), true
	}
	return 0, false
}
