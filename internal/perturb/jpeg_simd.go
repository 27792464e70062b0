//go:build goexperiment.simd && amd64

package perturb

import (
	"encoding/binary"
	"simd/archsimd"
)

// The vector path of jpeg_compression: the block transforms (jpegPlane), the encoder's colour
// conversion and subsampling (jpegEncodeRows) and the decoder's upsampling and colour conversion
// (jpegDecodeRow) with the same integer arithmetic as the scalar code, eight lanes at a time with
// AVX2, so that the output is identical byte for byte (TestJPEGRoundTripVectorMatchesScalar,
// FuzzJPEGVectorMatchesScalar). libjpeg-turbo, which the reference reaches through PIL, runs
// these steps with SIMD; the scalar code is about half as fast as this. The path is opt-in: it
// exists only in a build with GOEXPERIMENT=simd, and that experiment makes the Go runtime save
// the full vector state at every asynchronous preemption of any goroutine, which costs the whole
// pipeline more than this path saves (docs/corruptions.md, "Speed"). A CPU without AVX2 takes
// the scalar path.
//
// One 8x8 block is eight vectors. Each 1-D pass of the islow DCT combines whole vectors (the
// eight lanes are eight independent rows or columns), and a transpose between passes turns
// columns into rows; the quantizer divides through float32 with an exact integer correction.

// jpegVectorEnabled reports whether jpeg_compression can take the vector path on this machine.
var jpegVectorEnabled = archsimd.X86.AVX2()

type i32x8 = archsimd.Int32x8

// jpegVecTable is a jpegQuant in vector form, one vector per row of the table.
type jpegVecTable struct {
	q, d, half [8]i32x8 // q, the encoder's divisor 8q, and half of it
	inv        [8]archsimd.Float32x8
}

// fill sets v from t, once per table (newJPEGQuant).
func (v *jpegVecTable) fill(t *jpegQuant) {
	if !jpegVectorEnabled {
		return
	}
	for r := range 8 {
		var q, d, half [8]int32
		var inv [8]float32
		for c := range 8 {
			q[c] = t.q[8*r+c]
			d[c] = 8 * q[c]
			half[c] = d[c] >> 1
			inv[c] = 1 / float32(d[c])
		}
		v.q[r], v.d[r], v.half[r] = archsimd.LoadInt32x8(&q), archsimd.LoadInt32x8(&d), archsimd.LoadInt32x8(&half)
		v.inv[r] = archsimd.LoadFloat32x8(&inv)
	}
}

// jpegPlaneVector is jpegPlaneScalar on the vector path; it returns false, doing nothing, when
// the machine lacks AVX2.
func jpegPlaneVector(p []uint8, w, h int, t *jpegQuant) bool {
	if !jpegVectorEnabled {
		return false
	}
	var spare [16]uint8
	for by := 0; by < h; by += 8 {
		for bx := 0; bx < w; bx += 8 {
			jpegBlockVector(p, by*w+bx, w, t, &t.vec, &spare)
		}
	}
	archsimd.ClearAVXUpperBits()
	return true
}

// jpegLoadRow loads the eight samples at p[o:o+8], level-shifted as the encoder does.
func jpegLoadRow(p []uint8, o int, spare *[16]uint8) i32x8 {
	return jpegLoad8(p, o, spare).Sub(jc.c128)
}

// jpegStoreRow writes the low bytes of v's lanes (each 0..255) to p[o:o+8].
func jpegStoreRow(p []uint8, o int, v i32x8) {
	// Bytes 0, 4, 8, 12 of each 128-bit half to the front of the half, then lanes 0 and 4 side
	// by side.
	g := v.AsInt8x32().PermuteOrZeroGrouped(jpegLowBytes)
	g = g.AsInt32x8().Permute(jpegLanes04).AsInt8x32()
	binary.LittleEndian.PutUint64(p[o:o+8], g.AsUint64x4().GetLo().GetElem(0))
}

var (
	jpegLowBytes archsimd.Int8x32  // bytes 0, 4, 8, 12 of each half to its front
	jpegLanes04  archsimd.Uint32x8 // lanes 0 and 4 side by side
)

// transpose8 transposes the 8x8 matrix whose rows are r.
func transpose8(r *[8]i32x8) {
	t0, t1 := r[0].InterleaveLoGrouped(r[1]), r[0].InterleaveHiGrouped(r[1])
	t2, t3 := r[2].InterleaveLoGrouped(r[3]), r[2].InterleaveHiGrouped(r[3])
	t4, t5 := r[4].InterleaveLoGrouped(r[5]), r[4].InterleaveHiGrouped(r[5])
	t6, t7 := r[6].InterleaveLoGrouped(r[7]), r[6].InterleaveHiGrouped(r[7])
	u0 := t0.AsInt64x4().InterleaveLoGrouped(t2.AsInt64x4()).AsInt32x8()
	u1 := t0.AsInt64x4().InterleaveHiGrouped(t2.AsInt64x4()).AsInt32x8()
	u2 := t1.AsInt64x4().InterleaveLoGrouped(t3.AsInt64x4()).AsInt32x8()
	u3 := t1.AsInt64x4().InterleaveHiGrouped(t3.AsInt64x4()).AsInt32x8()
	u4 := t4.AsInt64x4().InterleaveLoGrouped(t6.AsInt64x4()).AsInt32x8()
	u5 := t4.AsInt64x4().InterleaveHiGrouped(t6.AsInt64x4()).AsInt32x8()
	u6 := t5.AsInt64x4().InterleaveLoGrouped(t7.AsInt64x4()).AsInt32x8()
	u7 := t5.AsInt64x4().InterleaveHiGrouped(t7.AsInt64x4()).AsInt32x8()
	r[0], r[4] = u0.Select128FromPair(0, 2, u4), u0.Select128FromPair(1, 3, u4)
	r[1], r[5] = u1.Select128FromPair(0, 2, u5), u1.Select128FromPair(1, 3, u5)
	r[2], r[6] = u2.Select128FromPair(0, 2, u6), u2.Select128FromPair(1, 3, u6)
	r[3], r[7] = u3.Select128FromPair(0, 2, u7), u3.Select128FromPair(1, 3, u7)
}

// jpegConsts holds the vector path's multipliers and rounding terms (in jc, made by init): loaded from memory, a
// vector constant costs one load, where a broadcast of an immediate takes two more
// instructions, one of them on the shuffle port that the transposes need.
type jpegConsts struct {
	fix0298631336, fix0541196100, fix0765366865, fix1175875602, fix1501321110, fix1847759065,
	fix2053119869, fix3072711026, neg0390180644, neg0899976223, neg1961570560, neg2562915447 i32x8
	round2, round11, round15                                    i32x8 // 1 << (n-1) for descale by n
	outBias, zero, max8, c128                                   i32x8
	c7, c8, half16, crR, crG, cbG, cbB                          i32x8 // the decoder's upsampling and colour conversion
	ry, gy, by, rcb, gcb, bcb, rcr, gcr, bcr, chromaOff, bias12 i32x8 // the encoder's colour conversion
}

var jc jpegConsts

// jpegOutShift removes the inverse DCT's scaling in its last pass.
const jpegOutShift = jpegConstBits + jpegPass1Bits + 3

// init makes the vector constants, on a CPU that can hold them: package-level vectors made
// unconditionally would stop the program on one without AVX2.
func init() {
	if !jpegVectorEnabled {
		return
	}
	jc = jpegConsts{
		vk(fix0298631336), vk(fix0541196100), vk(fix0765366865), vk(fix1175875602), vk(fix1501321110), vk(fix1847759065),
		vk(fix2053119869), vk(fix3072711026), vk(-fix0390180644), vk(-fix0899976223), vk(-fix1961570560), vk(-fix2562915447),
		vk(1 << 1), vk(1 << 10), vk(1 << 14),
		vk(1<<(jpegOutShift-1) + 128<<jpegOutShift), vk(0), vk(255), vk(128),
		vk(7), vk(8), vk(jpegHalf), vk(fixCrR), vk(-fixCrG), vk(-fixCbG), vk(fixCbB),
		vk(fixRY), vk(fixGY), vk(fixBY), vk(-fixRCb), vk(-fixGCb), vk(fixHalf), vk(fixHalf), vk(-fixGCr), vk(-fixBCr),
		vk(128<<jpegScaleBits + jpegHalf - 1), archsimd.LoadInt32x8(&[8]int32{1, 2, 1, 2, 1, 2, 1, 2}),
	}
	jpegLowBytes = archsimd.LoadInt8x32(&[32]int8{
		0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
		0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	})
	jpegLanes04 = archsimd.LoadUint32x8(&[8]uint32{0, 4, 1, 5, 2, 6, 3, 7})
	jpegRGBBytes = archsimd.LoadInt8x32(&[32]int8{
		0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
		0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
	})
	jpegPickR, jpegPickG, jpegPickB = jpegPick(0), jpegPick(1), jpegPick(2)
}

func vk(c int32) i32x8 { return archsimd.BroadcastInt32x8(c) }

// vdescale is descale on each lane, for the shifts the passes use.
func vdescale(x i32x8, n uint64) i32x8 {
	switch n {
	case 2:
		return x.Add(jc.round2).ShiftAllRight(2)
	case 11:
		return x.Add(jc.round11).ShiftAllRight(11)
	case 15:
		return x.Add(jc.round15).ShiftAllRight(15)
	}
	return x.Add(vk(1 << (n - 1))).ShiftAllRight(n)
}

// vfdctRows is fdctRow on each lane: the forward DCT's first pass, over the eight vectors d.
// The shifts are constants in each pass function: a shift by a variable count compiles to far
// slower code.
func vfdctRows(d *[8]i32x8) {
	tmp10, tmp11, tmp12, tmp13, tmp4, tmp5, tmp6, tmp7 := vfdctButterfly(d)
	const shift = jpegConstBits - jpegPass1Bits
	d[0] = tmp10.Add(tmp11).ShiftAllLeft(jpegPass1Bits)
	d[4] = tmp10.Sub(tmp11).ShiftAllLeft(jpegPass1Bits)
	z1 := tmp12.Add(tmp13).Mul(jc.fix0541196100)
	d[2] = vdescale(z1.Add(tmp13.Mul(jc.fix0765366865)), shift)
	d[6] = vdescale(z1.Sub(tmp12.Mul(jc.fix1847759065)), shift)
	o7, o5, o3, o1 := voddPart(tmp4, tmp5, tmp6, tmp7)
	d[7], d[5], d[3], d[1] = vdescale(o7, shift), vdescale(o5, shift), vdescale(o3, shift), vdescale(o1, shift)
}

// vfdctColumns is fdctColumn on each lane: the second pass, removing the extra bits.
func vfdctColumns(d *[8]i32x8) {
	tmp10, tmp11, tmp12, tmp13, tmp4, tmp5, tmp6, tmp7 := vfdctButterfly(d)
	const shift = jpegConstBits + jpegPass1Bits
	d[0] = vdescale(tmp10.Add(tmp11), jpegPass1Bits)
	d[4] = vdescale(tmp10.Sub(tmp11), jpegPass1Bits)
	z1 := tmp12.Add(tmp13).Mul(jc.fix0541196100)
	d[2] = vdescale(z1.Add(tmp13.Mul(jc.fix0765366865)), shift)
	d[6] = vdescale(z1.Sub(tmp12.Mul(jc.fix1847759065)), shift)
	o7, o5, o3, o1 := voddPart(tmp4, tmp5, tmp6, tmp7)
	d[7], d[5], d[3], d[1] = vdescale(o7, shift), vdescale(o5, shift), vdescale(o3, shift), vdescale(o1, shift)
}

// vfdctButterfly is the first stage of both forward passes.
func vfdctButterfly(d *[8]i32x8) (tmp10, tmp11, tmp12, tmp13, tmp4, tmp5, tmp6, tmp7 i32x8) {
	tmp0, tmp7 := d[0].Add(d[7]), d[0].Sub(d[7])
	tmp1, tmp6 := d[1].Add(d[6]), d[1].Sub(d[6])
	tmp2, tmp5 := d[2].Add(d[5]), d[2].Sub(d[5])
	tmp3, tmp4 := d[3].Add(d[4]), d[3].Sub(d[4])
	return tmp0.Add(tmp3), tmp1.Add(tmp2), tmp1.Sub(tmp2), tmp0.Sub(tmp3), tmp4, tmp5, tmp6, tmp7
}

// voddPart is fdctOdd and idctOdd (the same arithmetic) on each lane.
func voddPart(a, b, c, d i32x8) (i32x8, i32x8, i32x8, i32x8) {
	z1 := a.Add(d)
	z2 := b.Add(c)
	z3 := a.Add(c)
	z4 := b.Add(d)
	z5 := z3.Add(z4).Mul(jc.fix1175875602)
	z1 = z1.Mul(jc.neg0899976223)
	z2 = z2.Mul(jc.neg2562915447)
	z3 = z3.Mul(jc.neg1961570560).Add(z5)
	z4 = z4.Mul(jc.neg0390180644).Add(z5)
	return a.Mul(jc.fix0298631336).Add(z1).Add(z3), b.Mul(jc.fix2053119869).Add(z2).Add(z4),
		c.Mul(jc.fix3072711026).Add(z2).Add(z3), d.Mul(jc.fix1501321110).Add(z1).Add(z4)
}

// vidct is one pass of the inverse DCT over the eight vectors d: idctColumns' arithmetic when
// first is true; idctRow's otherwise, with the level shift undone and the result clamped.
func vidct(d *[8]i32x8, first bool) {
	z1 := d[2].Add(d[6]).Mul(jc.fix0541196100)
	e2 := z1.Sub(d[6].Mul(jc.fix1847759065))
	e3 := z1.Add(d[2].Mul(jc.fix0765366865))
	e0 := d[0].Add(d[4]).ShiftAllLeft(jpegConstBits)
	e1 := d[0].Sub(d[4]).ShiftAllLeft(jpegConstBits)
	tmp10, tmp11, tmp12, tmp13 := e0.Add(e3), e1.Add(e2), e1.Sub(e2), e0.Sub(e3)
	tmp0, tmp1, tmp2, tmp3 := voddPart(d[7], d[5], d[3], d[1])
	if first {
		const shift = jpegConstBits - jpegPass1Bits
		d[0], d[7] = vdescale(tmp10.Add(tmp3), shift), vdescale(tmp10.Sub(tmp3), shift)
		d[1], d[6] = vdescale(tmp11.Add(tmp2), shift), vdescale(tmp11.Sub(tmp2), shift)
		d[2], d[5] = vdescale(tmp12.Add(tmp1), shift), vdescale(tmp12.Sub(tmp1), shift)
		d[3], d[4] = vdescale(tmp13.Add(tmp0), shift), vdescale(tmp13.Sub(tmp0), shift)
		return
	}
	// descale(x)+128 is (x + round + 128<<shift) >> shift: one add for both.
	out := func(x i32x8) i32x8 { return x.Add(jc.outBias).ShiftAllRight(jpegOutShift).Max(jc.zero).Min(jc.max8) }
	d[0], d[7] = out(tmp10.Add(tmp3)), out(tmp10.Sub(tmp3))
	d[1], d[6] = out(tmp11.Add(tmp2)), out(tmp11.Sub(tmp2))
	d[2], d[5] = out(tmp12.Add(tmp1)), out(tmp12.Sub(tmp1))
	d[3], d[4] = out(tmp13.Add(tmp0)), out(tmp13.Sub(tmp0))
}

// vquantize is jpegQuant.quantize on row r of the coefficients: round |v|/(8q) half up, restore
// the sign, and multiply by q. The float32 quotient of |v| + 4q (exact below 2^24) by 8q is
// within one of the integer one, and one integer step corrects it.
func vquantize(v i32x8, vt *jpegVecTable, r int) i32x8 {
	n := v.Abs().Add(vt.half[r])
	k := n.ConvertToFloat32().Mul(vt.inv[r]).ConvertToInt32()
	rem := n.Sub(k.Mul(vt.d[r]))
	k = k.Add(rem.Less(jc.zero).ToInt32x8())         // quotient one too large: -1
	k = k.Sub(rem.GreaterEqual(vt.d[r]).ToInt32x8()) // one too small: +1
	return k.Mul(vt.q[r]).CopySign(v)
}

// jpegBlockVector compresses and reconstructs the block at offset o of plane p (stride w).
func jpegBlockVector(p []uint8, o, w int, t *jpegQuant, vt *jpegVecTable, spare *[16]uint8) {
	var b [8]i32x8
	sum, sq := jc.zero, jc.zero
	for y := range 8 {
		r := jpegLoadRow(p, o+y*w, spare)
		b[y] = r
		sum = sum.Add(r)
		sq = sq.Add(r.Mul(r))
	}
	s, q := hsum(sum), hsum(sq)
	if 64*int64(q)-int64(s)*int64(s) < t.flatEnergy {
		// Only DC survives (see jpegPlaneScalar).
		v := min(max(descale(t.quantize(0, s)<<jpegPass1Bits, jpegPass1Bits+3)+128, 0), 255)
		fill := uint64(v) * 0x0101010101010101
		for y := range 8 {
			binary.LittleEndian.PutUint64(p[o+y*w:o+y*w+8], fill)
		}
		return
	}
	transpose8(&b) // b[x] holds column x: the row pass transforms across vectors
	vfdctRows(&b)
	transpose8(&b) // back to rows: the column pass
	vfdctColumns(&b)
	for r := range 8 {
		b[r] = vquantize(b[r], vt, r)
	}
	vidct(&b, true) // columns
	transpose8(&b)
	vidct(&b, false) // rows, as columns of the transpose
	transpose8(&b)
	for y := range 8 {
		jpegStoreRow(p, o+y*w, b[y])
	}
}

// hsum is the sum of the lanes of x.
func hsum(x i32x8) int32 {
	h := x.GetLo().Add(x.GetHi())
	var a [4]int32
	h.Store(&a)
	return a[0] + a[1] + a[2] + a[3]
}

// jpegDecodeRowVector is jpegDecodeRow on the vector path, reading the chroma rows as bytes: near
// and far rows of Cb (cbN, cbF) and Cr (crN, crF), each of the decoder's n = len(cbN) columns.
// Eight chroma columns (sixteen pixels) at a time inside the row; the edge columns, whose
// neighbours repeat, take jpegDecodeColumn.
func jpegDecodeRowVector(out, yr, cbN, cbF, crN, crF []uint8) {
	n := len(cbN)
	var spare [16]uint8
	i := 1
	jpegDecodeColumn(out, yr, cbN, cbF, crN, crF, 0)
	fits := func(i int) bool { return i+8 <= n-1 && 2*i+16 <= len(yr) && 6*i+52 <= len(out) }
	for ; fits(i); i += 8 {
		jpegDecodeVector8(out, yr, cbN, cbF, crN, crF, i, &spare)
	}
	// One more block, overlapping the last, ends the row short of its edge column: its columns
	// are computed again, to the same values.
	if last := n - 9; i < n-1 && last >= 1 && fits(last) {
		jpegDecodeVector8(out, yr, cbN, cbF, crN, crF, last, &spare)
		i = n - 1
	}
	for ; i < n; i++ {
		jpegDecodeColumn(out, yr, cbN, cbF, crN, crF, i)
	}
	archsimd.ClearAVXUpperBits() // before the caller's SSE code, as in jpegPlaneVector
}

// jpegDecodeVector8 decodes chroma columns i..i+7, pixels 2i..2i+15.
func jpegDecodeVector8(out, yr, cbN, cbF, crN, crF []uint8, i int, spare *[16]uint8) {
	cbE, cbO := jpegUpsample8(cbN, cbF, i, spare)
	crE, crO := jpegUpsample8(crN, crF, i, spare)
	cb0, cb1 := jpegPixelOrder(cbE, cbO)
	cr0, cr1 := jpegPixelOrder(crE, crO)
	jpegColour8(out[6*i:], yr[2*i:], cb0, cr0, spare)
	jpegColour8(out[6*i+24:], yr[2*i+8:], cb1, cr1, spare)
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

// jpegUpsample8 is jpegUpsample1 for chroma columns i..i+7 (1 <= i, i+8 < len(near)).
func jpegUpsample8(near, far []uint8, i int, spare *[16]uint8) (even, odd i32x8) {
	at := func(j int) i32x8 {
		n, f := jpegLoad8(near, j, spare), jpegLoad8(far, j, spare)
		return n.Add(n.ShiftAllLeft(1)).Add(f)
	}
	this, left, right := at(i), at(i-1), at(i+1)
	this3 := this.Add(this.ShiftAllLeft(1))
	even = this3.Add(left).Add(jc.c8).ShiftAllRight(4)
	odd = this3.Add(right).Add(jc.c7).ShiftAllRight(4)
	return even, odd
}

// jpegPixelOrder interleaves even and odd samples of eight columns into the sixteen pixels' order,
// as two vectors of eight.
func jpegPixelOrder(even, odd i32x8) (i32x8, i32x8) {
	lo, hi := even.InterleaveLoGrouped(odd), even.InterleaveHiGrouped(odd)
	return lo.Select128FromPair(0, 2, hi), lo.Select128FromPair(1, 3, hi)
}

// jpegLoad8 loads s[o:o+8] as eight int32 lanes: 16 bytes straight from s where its capacity
// allows, else through spare.
func jpegLoad8(s []uint8, o int, spare *[16]uint8) i32x8 {
	var b archsimd.Uint8x16
	if o+16 <= cap(s) {
		b = archsimd.LoadUint8x16Slice(s[o : o+16])
	} else {
		copy(spare[:8], s[o:o+8])
		b = archsimd.LoadUint8x16(spare)
	}
	return b.ExtendLo8ToUint32().AsInt32x8()
}

// jpegColour8 converts eight pixels (luma yr[:8], chroma cb and cr) to RGB in out[:24] with the
// arithmetic of jpegColourTables, writing out[:28] (the caller owns the four bytes after).
func jpegColour8(out, yr []uint8, cb, cr i32x8, spare *[16]uint8) {
	y := jpegLoad8(yr, 0, spare)
	cb, cr = cb.Sub(jc.c128), cr.Sub(jc.c128)
	r := y.Add(cr.Mul(jc.crR).Add(jc.half16).ShiftAllRight(jpegScaleBits))
	g := y.Add(cr.Mul(jc.crG).Add(cb.Mul(jc.cbG)).Add(jc.half16).ShiftAllRight(jpegScaleBits))
	b := y.Add(cb.Mul(jc.cbB).Add(jc.half16).ShiftAllRight(jpegScaleBits))
	clamp := func(v i32x8) i32x8 { return v.Max(jc.zero).Min(jc.max8) }
	v := clamp(r).Or(clamp(g).ShiftAllLeft(8)).Or(clamp(b).ShiftAllLeft(16))
	p := v.AsInt8x32().PermuteOrZeroGrouped(jpegRGBBytes).AsUint8x32()
	p.GetLo().StoreSlice(out[0:16])
	p.GetHi().StoreSlice(out[12:28])
}

// jpegRGBBytes drops the fourth byte of each 32-bit pixel, per 128-bit half.
var jpegRGBBytes archsimd.Int8x32

// jpegEncodeRowsVector is jpegEncodeRows on the vector path: eight pixel columns (four chroma
// samples) of both rows at a time inside the image, the rest (the last columns and the padding)
// on the scalar code, from the column where the vectors stopped.
func jpegEncodeRowsVector(y, cb, cr []uint8, s0, s1 []uint8, w, pw int) {
	inner := min(w/2, len(cb))
	i := 0
	// A block reads 16 bytes at pixel 4 of its 8, so it needs 28 bytes of each row.
	for ; i+4 <= inner && 6*i+28 <= len(s0) && 6*i+28 <= len(s1); i += 4 {
		y0, cb0, cr0 := jpegConvert8(s0[6*i:])
		y1, cb1, cr1 := jpegConvert8(s1[6*i:])
		jpegStoreRow(y, 2*i, y0)
		jpegStoreRow(y, pw+2*i, y1)
		// The four samples of each chroma value: both rows, then neighbouring columns. Lanes:
		// Cb 0, 1, Cr 0, 1 | Cb 2, 3, Cr 2, 3; the bias alternates 1, 2 from an even column.
		s := cb0.Add(cb1).AddPairsGrouped(cr0.Add(cr1)).Add(jc.bias12).ShiftAllRight(2)
		g := s.AsInt8x32().PermuteOrZeroGrouped(jpegLowBytes).AsInt32x8().Permute(jpegLanes04)
		u := g.AsUint64x4().GetLo().GetElem(0) // bytes Cb0 Cb1 Cr0 Cr1 Cb2 Cb3 Cr2 Cr3
		cb[i], cb[i+1], cr[i], cr[i+1] = uint8(u), uint8(u>>8), uint8(u>>16), uint8(u>>24)
		cb[i+2], cb[i+3], cr[i+2], cr[i+3] = uint8(u>>32), uint8(u>>40), uint8(u>>48), uint8(u>>56)
	}
	archsimd.ClearAVXUpperBits()
	jpegEncodeRowsFrom(y, cb, cr, s0, s1, w, pw, i)
}

// jpegConvert8 converts the eight RGB pixels at s[:24] (reading s[:28]) to luma and per-pixel
// Cb and Cr with jpegEncodeRows' fixed-point arithmetic.
func jpegConvert8(s []uint8) (y, cb, cr i32x8) {
	a := archsimd.LoadUint8x16Slice(s[0:16])  // pixels 0..3 (and more)
	b := archsimd.LoadUint8x16Slice(s[12:28]) // pixels 4..7
	ab := archsimd.Int8x32{}.SetLo(a.AsInt8x16()).SetHi(b.AsInt8x16())
	r := ab.PermuteOrZeroGrouped(jpegPickR).AsInt32x8()
	g := ab.PermuteOrZeroGrouped(jpegPickG).AsInt32x8()
	bl := ab.PermuteOrZeroGrouped(jpegPickB).AsInt32x8()
	y = r.Mul(jc.ry).Add(g.Mul(jc.gy)).Add(bl.Mul(jc.by)).Add(jc.half16).ShiftAllRight(jpegScaleBits)
	cb = r.Mul(jc.rcb).Add(g.Mul(jc.gcb)).Add(bl.Mul(jc.bcb)).Add(jc.chromaOff).ShiftAllRight(jpegScaleBits)
	cr = r.Mul(jc.rcr).Add(g.Mul(jc.gcr)).Add(bl.Mul(jc.bcr)).Add(jc.chromaOff).ShiftAllRight(jpegScaleBits)
	return y, cb, cr
}

// jpegPickR, G, B gather one channel of four pixels (3 bytes each) per 128-bit half into 32-bit
// lanes.
var jpegPickR, jpegPickG, jpegPickB archsimd.Int8x32

func jpegPick(channel int8) archsimd.Int8x32 {
	var idx [32]int8
	for i := range idx {
		idx[i] = -1
	}
	for half := range 2 {
		for p := range int8(4) {
			idx[16*half+4*int(p)] = 3*p + channel
		}
	}
	return archsimd.LoadInt8x32(&idx)
}
