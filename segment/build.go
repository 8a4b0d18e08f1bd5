package segment

import "sync"

// Both parsers collect a message in pooled scratch space and then allocate
// it at its exact size: the segments, the pairs, and one string holding
// every value that needed unescaping. Allocation dominates the cost of
// parsing (one costs as much as scanning hundreds of bytes), so the parsers
// neither guess sizes nor grow slices as they go.
//
// The scratch records strings as offsets into the input rather than as
// strings, so its arrays hold no pointers (bar the rare owned strings): the
// garbage collector neither scans them nor charges a write barrier for
// every pair recorded while it runs.

// span locates a string: the input's src[off:end] when off >= 0, the
// constant "text" when off == spanText, and otherwise the owned string
// strs[spanOwned-off], for the rare strings that are not part of the input
// (an unescaped key, text merged across a dropped code).
type span struct{ off, end int }

const (
	spanText  = -1
	spanOwned = -2
)

// segRec is a segment under construction: its pairs are pairs[start:end].
type segRec struct {
	typ        span
	start, end int
}

type pairRec struct{ k, v span }

type scratch struct {
	src   string
	segs  []segRec
	pairs []pairRec
	strs  []string
	// fixes lists the pairs whose value was escaped (CQ entities or JSON
	// escapes), in order. Their values are decoded into buf, in the same
	// order, each ending at the matching entry of ends: by the CQ parser
	// as it goes, so that each is read once, and for JSON by message. For
	// JSON, fixLen is their total escaped length, which bounds their
	// decoded length (bar invalid UTF-8).
	fixes  []int
	fixLen int
	buf    []byte
	ends   []int
}

// maxPooled caps the size of what a pooled scratch keeps, so that one huge
// message does not pin its arrays for good.
const maxPooled = 64 << 10

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		segs:  make([]segRec, 0, 64),
		pairs: make([]pairRec, 0, 128),
		fixes: make([]int, 0, 64),
		buf:   make([]byte, 0, 4096),
		ends:  make([]int, 0, 64),
	}
}}

func getScratch(src string) *scratch {
	sc := scratchPool.Get().(*scratch)
	sc.src = src
	return sc
}

func (sc *scratch) release() {
	if cap(sc.pairs) > maxPooled/16 || cap(sc.buf) > maxPooled {
		return
	}
	clear(sc.strs)
	sc.src = ""
	sc.segs, sc.pairs, sc.strs, sc.fixes, sc.fixLen = sc.segs[:0], sc.pairs[:0], sc.strs[:0], sc.fixes[:0], 0
	sc.buf, sc.ends = sc.buf[:0], sc.ends[:0]
	scratchPool.Put(sc)
}

// sub returns the span of src[off:end].
func sub(off, end int) span { return span{off, end} }

// own records a string that is not part of the input.
func (sc *scratch) own(s string) span {
	sc.strs = append(sc.strs, s)
	return span{spanOwned - (len(sc.strs) - 1), 0}
}

func (sc *scratch) str(sp span) string {
	if sp.off >= 0 {
		return sc.src[sp.off:sp.end]
	}
	return sc.other(sp)
}

func (sc *scratch) other(sp span) string {
	if sp.off == spanText {
		return TypeText
	}
	return sc.strs[spanOwned-sp.off]
}

// addPair appends a pair; escaped says that v still needs decoding.
func (sc *scratch) addPair(k, v span, escaped bool) {
	if escaped {
		sc.fixes = append(sc.fixes, len(sc.pairs))
		sc.fixLen += v.end - v.off
	}
	sc.pairs = append(sc.pairs, pairRec{k, v})
}

// addDecoded appends a pair whose value, src[off:end], holds entities, the
// first at amp, and decodes it into buf.
func (sc *scratch) addDecoded(k span, off, amp, end int, value bool) {
	sc.buf = appendUnescaped(append(sc.buf, sc.src[off:amp]...), sc.src[amp:end], value)
	sc.addFixed(k)
}

// addBuffered appends a pair whose value, v, is already decoded.
func (sc *scratch) addBuffered(k span, v []byte) {
	sc.buf = append(sc.buf, v...)
	sc.addFixed(k)
}

// addFixed appends a pair whose value ends buf. Its v is never read, and
// being empty it leaves fixLen, which only JSON uses, as it is.
func (sc *scratch) addFixed(k span) {
	sc.fixes = append(sc.fixes, len(sc.pairs))
	sc.ends = append(sc.ends, len(sc.buf))
	sc.pairs = append(sc.pairs, pairRec{k, span{}})
}

// addSeg appends a segment owning the pairs from start to end.
func (sc *scratch) addSeg(typ span, start, end int) {
	sc.segs = append(sc.segs, segRec{typ, start, end})
}

// truncate drops the pairs from start on, with their fixes and, if the CQ
// parser decoded them already, their values.
func (sc *scratch) truncate(start int) {
	n := len(sc.fixes)
	for n > 0 && sc.fixes[n-1] >= start {
		n--
		v := sc.pairs[sc.fixes[n]].v
		sc.fixLen -= v.end - v.off
	}
	sc.fixes = sc.fixes[:n]
	if len(sc.ends) > n {
		sc.ends = sc.ends[:n]
		sc.buf = sc.buf[:0]
		if n > 0 {
			sc.buf = sc.buf[:sc.ends[n-1]]
		}
	}
	sc.pairs = sc.pairs[:start]
}

// dropNulls applies the null values of a data object whose pairs start at
// start: each removes the pairs of its key that came before it, so that a
// null makes a key absent even after a duplicate, while a pair after the
// null stands. It is one pass over the pairs whatever the number of nulls;
// removing the pairs as each null came would cost a pass per null.
func (sc *scratch) dropNulls(start int, nulls []nullAt) {
	// Backwards, a pair goes when a null of its key came after it.
	gone := make(map[string]struct{}, len(nulls))
	keep := make([]bool, len(sc.pairs)-start)
	n := len(nulls)
	for k := len(sc.pairs) - 1; k >= start; k-- {
		for ; n > 0 && nulls[n-1].at > k; n-- {
			gone[sc.str(nulls[n-1].k)] = struct{}{}
		}
		_, drop := gone[sc.str(sc.pairs[k].k)]
		keep[k-start] = !drop
	}
	// Forwards, the kept pairs close up, and so do the fixes that name
	// them: the fixes of this object are the tail of the list.
	f := len(sc.fixes)
	for f > 0 && sc.fixes[f-1] >= start {
		f--
	}
	w, fw := start, f
	for k := start; k < len(sc.pairs); k++ {
		fixed := f < len(sc.fixes) && sc.fixes[f] == k
		if fixed {
			f++
		}
		if !keep[k-start] {
			if fixed {
				v := sc.pairs[k].v
				sc.fixLen -= v.end - v.off
			}
			continue
		}
		if fixed {
			sc.fixes[fw] = w
			fw++
		}
		sc.pairs[w] = sc.pairs[k]
		w++
	}
	sc.fixes, sc.pairs = sc.fixes[:fw], sc.pairs[:w]
}

// message builds the final message. Escaped values are decoded as JSON
// string contents if json is set; the CQ parser decoded its own already.
func (sc *scratch) message(json bool) Message {
	if len(sc.segs) == 0 {
		return nil
	}
	var all string
	if len(sc.fixes) > 0 {
		if json {
			b := sc.buf[:0]
			if cap(b) < sc.fixLen {
				b = make([]byte, 0, sc.fixLen)
			}
			ends := sc.ends[:0]
			for _, f := range sc.fixes {
				b = appendUnquoted(b, sc.str(sc.pairs[f].v))
				ends = append(ends, len(b))
			}
			sc.buf, sc.ends = b, ends
		}
		// Copying the reusable buffer into one string is cheaper than a
		// strings.Builder, whose every write pays for its checks and,
		// while the collector runs, a write barrier.
		all = string(sc.buf)
	}
	msg, pairs := allocMessage(len(sc.segs), len(sc.pairs))
	fixes, ends, off := sc.fixes, sc.ends, 0
	for i, p := range sc.pairs {
		var v string
		if len(fixes) > 0 && fixes[0] == i {
			v, off = all[off:ends[0]], ends[0]
			fixes, ends = fixes[1:], ends[1:]
		} else {
			v = sc.str(p.v)
		}
		pairs[i] = Pair{sc.str(p.k), v}
	}
	// Field by field: Segment is too large for the compiler to store as
	// its parts, and a whole-struct store is a typed memmove whose bulk
	// write barrier costs more, while the collector runs, than the rest.
	for i, r := range sc.segs {
		msg[i].Type = sc.str(r.typ)
		if r.end > r.start {
			msg[i].Data = pairs[r.start:r.end:r.end]
		}
	}
	return msg
}

// Small messages, the usual case in chat, get their segments and pairs in
// one allocation.
type (
	block1 struct {
		segs  [1]Segment
		pairs [1]Pair
	}
	block2 struct {
		segs  [2]Segment
		pairs [2]Pair
	}
	block4 struct {
		segs  [4]Segment
		pairs [4]Pair
	}
	block8 struct {
		segs  [8]Segment
		pairs [8]Pair
	}
)

// allocMessage returns zeroed room for a message of nseg segments and npair
// pairs in all.
func allocMessage(nseg, npair int) (Message, []Pair) {
	switch n := max(nseg, npair); {
	case n <= 1:
		b := new(block1)
		return b.segs[:nseg:nseg], b.pairs[:npair:npair]
	case n <= 2:
		b := new(block2)
		return b.segs[:nseg:nseg], b.pairs[:npair:npair]
	case n <= 4:
		b := new(block4)
		return b.segs[:nseg:nseg], b.pairs[:npair:npair]
	case n <= 8:
		b := new(block8)
		return b.segs[:nseg:nseg], b.pairs[:npair:npair]
	}
	var pairs []Pair
	if npair > 0 {
		pairs = make([]Pair, npair)
	}
	return make(Message, nseg), pairs
}
