//go:build amd64 && !purego

package perturb

import (
	"encoding/binary"

	"golang.org/x/sys/cpu"
)

// The vector path of jpeg_compression: the block transforms (jpegPlane), the encoder's colour
// conversion and subsampling (jpegEncodeRows) and the decoder's upsampling and colour conversion
// (jpegDecodeRow) in AVX2 assembly (jpeg_amd64.s), with the same integer arithmetic as the scalar
// code eight lanes at a time, so that the output is identical byte for byte
// (TestJPEGRoundTripVectorMatchesScalar, FuzzJPEGVectorMatchesScalar). libjpeg-turbo, which the
// reference reaches through PIL, runs these steps with SIMD; the scalar code is about half as
// fast as this path.
//
// Assembly rather than Go 1.26's simd/archsimd: that package needs GOEXPERIMENT=simd, which makes
// the runtime save the whole vector state at every asynchronous preemption of every goroutine;
// that cost the rest of the pipeline more than this path saves. An assembly function is never
// preempted asynchronously, and each one clears the upper vector state (VZEROUPPER) before it
// returns. A CPU without AVX2 (or an OS that does not save its state) takes the scalar path.

// jpegVectorEnabled reports whether jpeg_compression can take the vector path on this machine.
var jpegVectorEnabled = cpu.X86.HasAVX2

// jpegBlockAVX2 compresses and reconstructs the 8x8 block at p (rows stride bytes apart) in
// place, unless it is flat: when 64*sum(x^2) - sum(x)^2 of its level-shifted samples is below
// flatEnergy it writes nothing and returns flat with the samples' sum (see jpegPlaneScalar).
//
//go:noescape
func jpegBlockAVX2(p *uint8, stride int, k *jpegAsmConsts, t *jpegVecTable, flatEnergy int64) (sum int32, flat bool)

// jpegEncodeAVX2 converts n groups of eight RGB pixels of two rows (s0, s1; reading 4 bytes past
// each group's 24) into luma (y0, y1: eight bytes per group) and subsampled chroma (cb, cr: four
// bytes per group), the bias of the chroma rounding starting at an even column.
//
//go:noescape
func jpegEncodeAVX2(y0, y1, cb, cr, s0, s1 *uint8, n int, k *jpegAsmConsts)

// jpegDecodeAVX2 decodes n groups of eight chroma columns (sixteen pixels) from the near and far
// chroma rows of Cb and Cr and the luma row yr, writing 48 RGB bytes per group to out, and 4 more
// after the last. Each group reads one chroma column either side of it.
//
//go:noescape
func jpegDecodeAVX2(out, yr, cbN, cbF, crN, crF *uint8, n int, k *jpegAsmConsts)

// jpegVecTable is a jpegQuant in the vector path's form, one row of eight lanes per table row:
// q, the encoder's divisor 8q, half of it, and its reciprocal in float32.
type jpegVecTable struct {
	q, d, half [8][8]int32
	inv        [8][8]float32
}

// fill sets v from t, once per table (newJPEGQuant).
func (v *jpegVecTable) fill(t *jpegQuant) {
	for i, q := range t.q {
		r, c := i/8, i%8
		v.q[r][c], v.d[r][c], v.half[r][c] = q, 8*q, 4*q
		v.inv[r][c] = 1 / float32(8*q)
	}
}

// jpegAsmConsts holds the assembly's vector constants, each broadcast to eight lanes (or a byte
// shuffle): a constant loaded from memory costs the instruction that uses it nothing more.
type jpegAsmConsts struct {
	// The islow DCT's multipliers.
	fix0298, fix0541, fix0765, fix1175, fix1501, fix1847, fix2053, fix3072 [8]int32
	neg0390, neg0899, neg1961, neg2562                                     [8]int32
	// Rounding terms of the descaling shifts, and the inverse DCT's output bias: its rounding
	// plus the level shift 128, both scaled by the shift.
	round2, round11, round15, outBias [8]int32
	zero, max8, c128, minus1          [8]int32
	// The decoder's upsampling rounding and colour conversion.
	c7, c8, half16, crR, crG, cbG, cbB [8]int32
	// The encoder's colour conversion and the chroma rounding bias (1, 2 alternating).
	ry, gy, by, rcb, gcb, bcb, rcr, gcr, bcr, chromaOff, bias12 [8]int32
	// Byte shuffles: one channel of four RGB pixels per 128-bit half into 32-bit lanes; the
	// first three bytes of each 32-bit pixel; Cb0 Cb1 Cr0 Cr1 Cb2 Cb3 Cr2 Cr3 to Cb0..3 Cr0..3.
	pickR, pickG, pickB, rgbBytes [32]int8
	chromaBytes                   [16]int8
}

var jpegK = newJPEGAsmConsts()

func newJPEGAsmConsts() *jpegAsmConsts {
	v := func(c int32) (a [8]int32) {
		for i := range a {
			a[i] = c
		}
		return a
	}
	k := &jpegAsmConsts{
		fix0298: v(fix0298631336), fix0541: v(fix0541196100), fix0765: v(fix0765366865), fix1175: v(fix1175875602),
		fix1501: v(fix1501321110), fix1847: v(fix1847759065), fix2053: v(fix2053119869), fix3072: v(fix3072711026),
		neg0390: v(-fix0390180644), neg0899: v(-fix0899976223), neg1961: v(-fix1961570560), neg2562: v(-fix2562915447),
		round2: v(1 << 1), round11: v(1 << 10), round15: v(1 << 14),
		outBias: v(1<<(jpegOutShift-1) + 128<<jpegOutShift),
		zero:    v(0), max8: v(255), c128: v(128), minus1: v(-1),
		c7: v(7), c8: v(8), half16: v(jpegHalf), crR: v(fixCrR), crG: v(-fixCrG), cbG: v(-fixCbG), cbB: v(fixCbB),
		ry: v(fixRY), gy: v(fixGY), by: v(fixBY), rcb: v(-fixRCb), gcb: v(-fixGCb), bcb: v(fixHalf),
		rcr: v(fixHalf), gcr: v(-fixGCr), bcr: v(-fixBCr), chromaOff: v(128<<jpegScaleBits + jpegHalf - 1),
		bias12:      [8]int32{1, 2, 1, 2, 1, 2, 1, 2},
		chromaBytes: [16]int8{0, 1, 4, 5, 2, 3, 6, 7, -1, -1, -1, -1, -1, -1, -1, -1},
	}
	for i := range 32 {
		k.pickR[i], k.pickG[i], k.pickB[i], k.rgbBytes[i] = -1, -1, -1, -1
	}
	for half := range 2 {
		for p := range int8(4) {
			at := 16*half + 4*int(p)
			k.pickR[at], k.pickG[at], k.pickB[at] = 3*p, 3*p+1, 3*p+2
			for c := range int8(3) {
				k.rgbBytes[16*half+3*int(p)+int(c)] = 4*p + c
			}
		}
	}
	return k
}

// jpegOutShift removes the inverse DCT's scaling in its last pass.
const jpegOutShift = jpegConstBits + jpegPass1Bits + 3

// jpegPlaneVector is jpegPlaneScalar on the vector path; it returns false, doing nothing, when
// the machine lacks AVX2.
func jpegPlaneVector(p []uint8, w, h int, t *jpegQuant) bool {
	if !jpegVectorEnabled {
		return false
	}
	if w%8 != 0 || h%8 != 0 || len(p) < w*h {
		panic("perturb: jpegPlaneVector needs whole 8x8 blocks")
	}
	for by := 0; by < h; by += 8 {
		for bx := 0; bx < w; bx += 8 {
			o := by*w + bx
			sum, flat := jpegBlockAVX2(&p[o], w, jpegK, &t.vec, t.flatEnergy)
			if !flat {
				continue
			}
			// Only DC survives (see jpegPlaneScalar).
			v := min(max(descale(t.quantize(0, sum)<<jpegPass1Bits, jpegPass1Bits+3)+128, 0), 255)
			fill := uint64(v) * 0x0101010101010101
			for y := range 8 {
				binary.LittleEndian.PutUint64(p[o+y*w:o+y*w+8], fill)
			}
		}
	}
	return true
}

// jpegDecodeRowVector is jpegDecodeRow on the vector path, reading the chroma rows as bytes: near
// and far rows of Cb (cbN, cbF) and Cr (crN, crF), each of the decoder's n = len(cbN) columns.
// Eight chroma columns (sixteen pixels) at a time inside the row; the edge columns, whose
// neighbours repeat, take jpegDecodeColumn.
func jpegDecodeRowVector(out, yr, cbN, cbF, crN, crF []uint8) {
	n := len(cbN)
	cbF, crN, crF = cbF[:n], crN[:n], crF[:n]
	jpegDecodeColumn(out, yr, cbN, cbF, crN, crF, 0)
	// A group at column i reads chroma columns i-1..i+8, luma 2i..2i+15 and writes
	// out[6i:6i+52]; the four bytes past its pixels belong to the next group or the edge.
	fits := func(i int) bool { return i >= 1 && i+8 <= n-1 && 2*i+16 <= len(yr) && 6*i+52 <= len(out) }
	i, groups := 1, 0
	for fits(i + 8*groups) {
		groups++
	}
	if groups > 0 {
		jpegDecodeAVX2(&out[6*i], &yr[2*i], &cbN[i], &cbF[i], &crN[i], &crF[i], groups, jpegK)
		i += 8 * groups
	}
	// One more group, overlapping the last, ends the row short of its edge column: its columns
	// are computed again, to the same values.
	if last := n - 9; i < n-1 && fits(last) {
		jpegDecodeAVX2(&out[6*last], &yr[2*last], &cbN[last], &cbF[last], &crN[last], &crF[last], 1, jpegK)
		i = n - 1
	}
	for ; i < n; i++ {
		jpegDecodeColumn(out, yr, cbN, cbF, crN, crF, i)
	}
}

// jpegEncodeRowsVector is jpegEncodeRows on the vector path: eight pixel columns (four chroma
// samples) of both rows at a time inside the image, the rest (the last columns and the padding)
// on the scalar code, from the column where the vectors stopped.
func jpegEncodeRowsVector(y, cb, cr []uint8, s0, s1 []uint8, w, pw int) {
	inner := min(w/2, len(cb), len(cr))
	// A group reads 28 bytes of each row from pixel 8g (16 bytes at pixels 0 and 4).
	groups := 0
	for i := 0; i+4 <= inner && 6*i+28 <= len(s0) && 6*i+28 <= len(s1); i += 4 {
		groups++
	}
	if groups > 0 {
		_ = y[pw+8*groups-1] // both luma rows hold the groups' pixels (8*groups <= w <= pw)
		jpegEncodeAVX2(&y[0], &y[pw], &cb[0], &cr[0], &s0[0], &s1[0], groups, jpegK)
	}
	jpegEncodeRowsFrom(y, cb, cr, s0, s1, w, pw, 4*groups)
}

// jpegDecodeColumn decodes the two pixels of chroma column i (those inside the row).
func jpegDecodeColumn(out, yr, cbN, cbF, crN, crF []uint8, i int) {
	cbE, cbO := jpegUpsample1(cbN, cbF, i)
	crE, crO := jpegUpsample1(crN, crF, i)
	tab := &jpegColourPacked
	for k, c := range [2][2]int32{{cbE, crE}, {cbO, crO}} {
		if x := 2*i + k; x < len(yr) {
			jpegPixel((*[3]uint8)(out[3*x:3*x+3]), int32(yr[x]), tab.cr[c[1]], tab.cb[c[0]])
		}
	}
}

// jpegUpsample1 is the triangle filter of jpegDecodeRow for chroma column i of one channel: the
// even and the odd output sample.
func jpegUpsample1(near, far []uint8, i int) (int32, int32) {
	at := func(j int) int32 { return 3*int32(near[j]) + int32(far[j]) }
	this := at(i)
	left, right := this, this
	if i > 0 {
		left = at(i - 1)
	}
	if i+1 < len(near) {
		right = at(i + 1)
	}
	return (3*this + left + 8) >> 4, (3*this + right + 7) >> 4
}
