package capture

import "sync/atomic"

// Block is a buffer of bytes read from one input. A Reader opened with a
// BlockPool reads into blocks and never overwrites one: when it needs room
// it moves to a fresh block, so the Data of every record it returned stays
// valid for as long as someone holds a reference to Record.Block.
//
// That lets one goroutine read and walk the records while others decode
// them, without copying a byte: the reader takes a reference for each
// consumer (Retain) and each consumer drops it when done (Release). The
// block goes back to its pool when the last reference is dropped.
type Block struct {
	buf  []byte
	refs atomic.Int32
	pool *BlockPool
	// Seq is free for the bookkeeping of whoever batches records (e.g. the
	// number of the batch that last took a reference); readers never touch
	// it.
	Seq uint64
}

// Retain adds n references.
func (b *Block) Retain(n int32) { b.refs.Add(n) }

// Release drops one reference; the last one returns the block to its pool.
func (b *Block) Release() {
	switch n := b.refs.Add(-1); {
	case n == 0 && b.pool != nil:
		b.pool.put(b)
	case n < 0:
		panic("capture: Block released more often than retained")
	}
}

// Bytes is the block's buffer. Record.Data of the records read into the
// block are sub-slices of it.
func (b *Block) Bytes() []byte { return b.buf }

// BlockPool recycles blocks of one size. Blocks of other sizes (a window
// that had to grow for a large pcapng block) are allocated on demand and
// left to the garbage collector. It is safe for concurrent use.
type BlockPool struct {
	size int
	free chan *Block
}

// NewBlockPool returns a pool of blocks of size bytes that keeps at most
// keep free blocks for reuse. Readers start with a block of that size.
func NewBlockPool(size, keep int) *BlockPool {
	if size <= 0 {
		size = initialWindow
	}
	return &BlockPool{size: size, free: make(chan *Block, max(keep, 0))}
}

// Size is the size of the pool's blocks.
func (p *BlockPool) Size() int { return p.size }

// get returns a block of at least n bytes holding one reference.
func (p *BlockPool) get(n int) *Block {
	var b *Block
	if n <= p.size {
		select {
		case b = <-p.free:
		default:
			b = &Block{buf: make([]byte, p.size), pool: p}
		}
	} else {
		b = &Block{buf: make([]byte, n)} // not pooled
	}
	b.refs.Store(1)
	return b
}

func (p *BlockPool) put(b *Block) {
	select {
	case p.free <- b:
	default: // enough spares: let it go
	}
}
