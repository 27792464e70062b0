package perturb

import (
	"encoding/binary"

	"github.com/cvgate/cvgate/internal/imaging"
)

// JPEG compression without the bitstream. The damage of a JPEG round trip happens in the colour
// conversion, the chroma subsampling, the quantization of DCT coefficients and their
// reconstruction; Huffman coding is lossless and changes nothing. So jpegRoundTrip runs those
// steps and skips the entropy coder, with the integer arithmetic of the IJG library that PIL (and
// so the reference) uses through libjpeg-turbo: the same quantization tables and quality
// scaling, the 16-bit fixed-point colour conversion, 2x2 chroma averaging with alternating
// rounding, the "islow" integer DCT and inverse DCT (Loeffler-Ligtenberg-Moschytz, 13-bit
// constants, two extra bits between passes), and triangle-filter ("fancy") chroma upsampling.

// Annex K tables of the JPEG standard, in natural (row-major) order.
var (
	jpegLumaTable = [64]int32{
		16, 11, 10, 16, 24, 40, 51, 61,
		12, 12, 14, 19, 26, 58, 60, 55,
		14, 13, 16, 24, 40, 57, 69, 56,
		14, 17, 22, 29, 51, 87, 80, 62,
		18, 22, 37, 56, 68, 109, 103, 77,
		24, 35, 55, 64, 81, 104, 113, 92,
		49, 64, 78, 87, 103, 121, 120, 101,
		72, 92, 95, 98, 112, 100, 103, 99,
	}
	jpegChromaTable = [64]int32{
		17, 18, 24, 47, 99, 99, 99, 99,
		18, 21, 26, 66, 99, 99, 99, 99,
		24, 26, 56, 99, 99, 99, 99, 99,
		47, 66, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
		99, 99, 99, 99, 99, 99, 99, 99,
	}
)

// jpegQuant is one scaled quantization table: q per coefficient, and for the encoder the divisor
// 8q of the DCT's 8x-scaled output as an exact reciprocal (see quantize).
type jpegQuant struct {
	q     [64]int32
	recip [64]uint64
	half  [64]int32
	// flatEnergy bounds 64*sum(x^2) - sum(x)^2 (64 times the squared deviation from the mean)
	// below which a block is certain to keep only its DC coefficient; see newJPEGQuant.
	flatEnergy int64
	// zeroColumn[u] bounds the squared norm of column u after the DCT's row pass below which
	// every coefficient of that column quantizes to zero; see newJPEGQuant.
	zeroColumn [8]int64
	// vec is the table in the vector path's form (empty without that path).
	vec jpegVecTable
}

// newJPEGQuant scales a base table to quality (1..100) as the IJG library does: quality below 50
// scales by 5000/quality percent, above by 200-2*quality, rounded, limited to 1..255 (baseline).
func newJPEGQuant(base *[64]int32, quality int) *jpegQuant {
	quality = min(max(quality, 1), 100)
	scale := int32(200 - 2*quality)
	if quality < 50 {
		scale = int32(5000 / quality)
	}
	t := &jpegQuant{}
	minAC := int32(255)
	for i, b := range base {
		q := min(max((b*scale+50)/100, 1), 255)
		t.q[i] = q
		d := uint64(q) << 3
		t.recip[i] = (1<<32)/d + 1
		t.half[i] = int32(d >> 1)
		if i > 0 {
			minAC = min(minAC, q)
		}
	}
	// A block whose samples deviate from their mean by e (Euclidean norm over the 64 samples)
	// has no orthonormal DCT coefficient larger than e, and the encoder divides those by q: if
	// e < minAC/2 every AC coefficient rounds to zero. The integer DCT is within a fraction of a
	// unit of the exact one, so a 10% margin keeps the shortcut exact.
	lim := 0.9 * float64(minAC) / 2
	t.flatEnergy = int64(64 * lim * lim)
	// The same bound per column of the second pass: after the first pass, column u holds the
	// row transforms scaled by 4*sqrt(8), so no coefficient of the column exceeds 1/sqrt(2) of
	// its norm (in the encoder's units, 8 times orthonormal); a coefficient quantizes to zero
	// below 4q. Eight units of margin cover the integer DCT's rounding.
	for u := 1; u < 8; u++ {
		qmin := int32(255)
		for v := range 8 {
			qmin = min(qmin, t.q[8*v+u])
		}
		if m := int64(4*qmin - 8); m > 0 {
			t.zeroColumn[u] = 2 * m * m
		}
	}
	t.vec.fill(t)
	return t
}

// quantize rounds v/(8q) to the nearest integer, halves away from zero, as the IJG encoder does,
// and returns the decoder's dequantized value (that integer times q). The reciprocal is exact:
// |v| + 4q < 2^19 and 8q <= 2040, so the error of |v|*recip stays below one unit after the shift.
// There is no branch for the common zero (|v| below half the divisor): the low-frequency
// coefficients are zero or not without a pattern the branch predictor could learn, and the
// multiply gives zero for them anyway.
func (t *jpegQuant) quantize(i int, v int32) int32 {
	s := v >> 31 // 0 or -1
	a := (v ^ s) - s
	q := int32((uint64(a+t.half[i]) * t.recip[i]) >> 32)
	return ((q ^ s) - s) * t.q[i]
}

// islow constants: round(x * 2^13).
const (
	jpegConstBits = 13
	jpegPass1Bits = 2

	fix0298631336 = 2446
	fix0390180644 = 3196
	fix0541196100 = 4433
	fix0765366865 = 6270
	fix0899976223 = 7373
	fix1175875602 = 9633
	fix1501321110 = 12299
	fix1847759065 = 15137
	fix1961570560 = 16069
	fix2053119869 = 16819
	fix2562915447 = 20995
	fix3072711026 = 25172
)

// descale divides by 2^n with rounding (arithmetic shift).
func descale(x int32, n uint) int32 { return (x + 1<<(n-1)) >> n }

// jpegPlane compresses and reconstructs a plane of 8-bit samples (stride w, a multiple of 8, and
// h rows, a multiple of 8) in place, block by block: on the vector path where the build and the
// machine have it (jpeg_amd64.s), else on the scalar one.
func jpegPlane(p []uint8, w, h int, t *jpegQuant, vector bool) {
	if !vector || !jpegPlaneVector(p, w, h, t) {
		jpegPlaneScalar(p, w, h, t)
	}
}

// jpegPlaneScalar is jpegPlane in plain Go.
func jpegPlaneScalar(p []uint8, w, h int, t *jpegQuant) {
	var blk, ws [64]int32
	for by := 0; by < h; by += 8 {
		for bx := 0; bx < w; bx += 8 {
			var sum, sq int64
			for y := range 8 {
				o := (by+y)*w + bx
				row := (*[8]uint8)(p[o : o+8])
				b := (*[8]int32)(blk[8*y : 8*y+8])
				for x := range 8 {
					v := int32(row[x]) - 128
					b[x] = v
					sum += int64(v)
					sq += int64(v * v)
				}
			}
			if 64*sq-sum*sum < t.flatEnergy {
				// Only DC survives. The integer DCT's DC is exactly the sum of the level-shifted
				// samples, and the inverse of a lone DC is flat.
				v := min(max(descale(t.quantize(0, int32(sum))<<jpegPass1Bits, jpegPass1Bits+3)+128, 0), 255)
				fill := uint64(v) * 0x0101010101010101 // eight copies of the byte, one store per row
				for y := range 8 {
					o := (by+y)*w + bx
					binary.LittleEndian.PutUint64(p[o:o+8], fill)
				}
				continue
			}
			var n2 [8]int64 // squared norm of each column after the row pass
			for y := range 8 {
				r := (*[8]int32)(blk[8*y : 8*y+8])
				fdctRow(r)
				for x := 1; x < 8; x++ {
					n2[x] += int64(r[x]) * int64(r[x])
				}
			}
			cols := 0 // one past the last column with a nonzero quantized coefficient
			for x := range 8 {
				if x > 0 {
					if n2[x] < t.zeroColumn[x] {
						// Every coefficient of this column quantizes to zero (see zeroColumn).
						for y := range 8 {
							blk[8*y+x] = 0
						}
						continue
					}
				}
				fdctColumn(&blk, x)
				var nz int32
				for y := range 8 {
					v := t.quantize(8*y+x, blk[8*y+x])
					blk[8*y+x] = v
					nz |= v
				}
				if nz != 0 {
					cols = x + 1
				}
			}
			// Columns from cols on are zero in every row, so they are zero after the inverse
			// column pass too: the row pass can take the shortest variant that covers cols, once
			// for the block, instead of testing each row.
			n := 8
			switch {
			case cols <= 1:
				n = 1
			case cols <= 2:
				n = 2
			case cols <= 4:
				n = 4
			}
			idctColumns(&ws, &blk, n)
			for y := range 8 {
				o := (by+y)*w + bx
				out, r := (*[8]uint8)(p[o:o+8]), (*[8]int32)(ws[8*y:8*y+8])
				switch n {
				case 1:
					idctRow1(out, r)
				case 2:
					idctRow2(out, r)
				case 4:
					idctRow4(out, r)
				default:
					idctRow(out, r)
				}
			}
		}
	}
}

// fdctRow is the islow forward DCT's first pass over one row, keeping jpegPass1Bits extra bits.
func fdctRow(d *[8]int32) {
	tmp0, tmp7 := d[0]+d[7], d[0]-d[7]
	tmp1, tmp6 := d[1]+d[6], d[1]-d[6]
	tmp2, tmp5 := d[2]+d[5], d[2]-d[5]
	tmp3, tmp4 := d[3]+d[4], d[3]-d[4]
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
	const shift = jpegConstBits - jpegPass1Bits
	d[0] = (tmp10 + tmp11) << jpegPass1Bits
	d[4] = (tmp10 - tmp11) << jpegPass1Bits
	z1 := (tmp12 + tmp13) * fix0541196100
	d[2] = descale(z1+tmp13*fix0765366865, shift)
	d[6] = descale(z1-tmp12*fix1847759065, shift)
	o7, o5, o3, o1 := fdctOdd(tmp4, tmp5, tmp6, tmp7)
	d[7] = descale(o7, shift)
	d[5] = descale(o5, shift)
	d[3] = descale(o3, shift)
	d[1] = descale(o1, shift)
}

// fdctColumn is the islow forward DCT's second pass over column x, removing the extra bits: the
// output is the DCT scaled by 8.
func fdctColumn(b *[64]int32, x int) {
	const shift = jpegConstBits + jpegPass1Bits
	c := (*[57]int32)(b[x : x+57])
	tmp0, tmp7 := c[0]+c[56], c[0]-c[56]
	tmp1, tmp6 := c[8]+c[48], c[8]-c[48]
	tmp2, tmp5 := c[16]+c[40], c[16]-c[40]
	tmp3, tmp4 := c[24]+c[32], c[24]-c[32]
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2
	c[0] = descale(tmp10+tmp11, jpegPass1Bits)
	c[32] = descale(tmp10-tmp11, jpegPass1Bits)
	z1 := (tmp12 + tmp13) * fix0541196100
	c[16] = descale(z1+tmp13*fix0765366865, shift)
	c[48] = descale(z1-tmp12*fix1847759065, shift)
	o7, o5, o3, o1 := fdctOdd(tmp4, tmp5, tmp6, tmp7)
	c[56] = descale(o7, shift)
	c[40] = descale(o5, shift)
	c[24] = descale(o3, shift)
	c[8] = descale(o1, shift)
}

// fdctOdd is the odd part of the forward DCT (outputs 7, 5, 3, 1 before descaling).
func fdctOdd(tmp4, tmp5, tmp6, tmp7 int32) (int32, int32, int32, int32) {
	z1 := tmp4 + tmp7
	z2 := tmp5 + tmp6
	z3 := tmp4 + tmp6
	z4 := tmp5 + tmp7
	z5 := (z3 + z4) * fix1175875602
	z1 *= -fix0899976223
	z2 *= -fix2562915447
	z3 = z3*-fix1961570560 + z5
	z4 = z4*-fix0390180644 + z5
	return tmp4*fix0298631336 + z1 + z3, tmp5*fix2053119869 + z2 + z4,
		tmp6*fix3072711026 + z2 + z3, tmp7*fix1501321110 + z1 + z4
}

// idctColumns is the islow inverse DCT's first pass: dequantized coefficients in b, columns to
// ws with jpegPass1Bits extra bits. A column whose AC terms are all zero is flat, DC <<
// jpegPass1Bits, which is also what the full pass computes; coarse quality makes most columns so.
// Only the first n columns are transformed: the caller knows the others are zero and does not
// read them.
func idctColumns(ws, b *[64]int32, n int) {
	const shift = jpegConstBits - jpegPass1Bits
	for x := range n {
		if b[8+x]|b[16+x]|b[24+x]|b[32+x]|b[40+x]|b[48+x]|b[56+x] == 0 {
			dc := b[x] << jpegPass1Bits
			ws[x], ws[8+x], ws[16+x], ws[24+x] = dc, dc, dc, dc
			ws[32+x], ws[40+x], ws[48+x], ws[56+x] = dc, dc, dc, dc
			continue
		}
		tmp10, tmp11, tmp12, tmp13 := idctEven(b[x], b[16+x], b[32+x], b[48+x])
		tmp0, tmp1, tmp2, tmp3 := idctOdd(b[56+x], b[40+x], b[24+x], b[8+x])
		ws[x] = descale(tmp10+tmp3, shift)
		ws[56+x] = descale(tmp10-tmp3, shift)
		ws[8+x] = descale(tmp11+tmp2, shift)
		ws[48+x] = descale(tmp11-tmp2, shift)
		ws[16+x] = descale(tmp12+tmp1, shift)
		ws[40+x] = descale(tmp12-tmp1, shift)
		ws[24+x] = descale(tmp13+tmp0, shift)
		ws[32+x] = descale(tmp13-tmp0, shift)
	}
}

// idctRow is the inverse DCT's second pass over one row of ws, writing samples (level shift
// undone, clamped to 0..255) to out. idctRow1, idctRow2 and idctRow4 are the same arithmetic for
// rows whose terms past the first 1, 2 or 4 are zero, with the zero products left out.
func idctRow(out *[8]uint8, w *[8]int32) {
	tmp10, tmp11, tmp12, tmp13 := idctEven(w[0], w[2], w[4], w[6])
	tmp0, tmp1, tmp2, tmp3 := idctOdd(w[7], w[5], w[3], w[1])
	const shift = jpegConstBits + jpegPass1Bits + 3
	out[0] = uint8(min(max(descale(tmp10+tmp3, shift)+128, 0), 255))
	out[7] = uint8(min(max(descale(tmp10-tmp3, shift)+128, 0), 255))
	out[1] = uint8(min(max(descale(tmp11+tmp2, shift)+128, 0), 255))
	out[6] = uint8(min(max(descale(tmp11-tmp2, shift)+128, 0), 255))
	out[2] = uint8(min(max(descale(tmp12+tmp1, shift)+128, 0), 255))
	out[5] = uint8(min(max(descale(tmp12-tmp1, shift)+128, 0), 255))
	out[3] = uint8(min(max(descale(tmp13+tmp0, shift)+128, 0), 255))
	out[4] = uint8(min(max(descale(tmp13-tmp0, shift)+128, 0), 255))
}

func idctRow1(out *[8]uint8, w *[8]int32) {
	v := uint64(min(max(descale(w[0], jpegPass1Bits+3)+128, 0), 255))
	binary.LittleEndian.PutUint64(out[:], v*0x0101010101010101)
}

func idctRow2(out *[8]uint8, w *[8]int32) {
	c0, c1 := w[0]<<jpegConstBits, w[1]
	z5 := c1 * fix1175875602
	z1, z4 := c1*-fix0899976223, c1*-fix0390180644+z5
	tmp10, tmp11, tmp12, tmp13 := c0, c0, c0, c0
	tmp0, tmp1, tmp2, tmp3 := z1+z5, z4, z5, c1*fix1501321110+z1+z4
	const shift = jpegConstBits + jpegPass1Bits + 3
	out[0] = uint8(min(max(descale(tmp10+tmp3, shift)+128, 0), 255))
	out[7] = uint8(min(max(descale(tmp10-tmp3, shift)+128, 0), 255))
	out[1] = uint8(min(max(descale(tmp11+tmp2, shift)+128, 0), 255))
	out[6] = uint8(min(max(descale(tmp11-tmp2, shift)+128, 0), 255))
	out[2] = uint8(min(max(descale(tmp12+tmp1, shift)+128, 0), 255))
	out[5] = uint8(min(max(descale(tmp12-tmp1, shift)+128, 0), 255))
	out[3] = uint8(min(max(descale(tmp13+tmp0, shift)+128, 0), 255))
	out[4] = uint8(min(max(descale(tmp13-tmp0, shift)+128, 0), 255))
}

func idctRow4(out *[8]uint8, w *[8]int32) {
	c0, c1, c2, c3 := w[0]<<jpegConstBits, w[1], w[2], w[3]
	z1 := c2 * fix0541196100
	t3 := z1 + c2*fix0765366865
	tmp10, tmp13, tmp11, tmp12 := c0+t3, c0-t3, c0+z1, c0-z1
	z5 := (c3 + c1) * fix1175875602
	z3 := c3*-fix1961570560 + z5
	z4 := c1*-fix0390180644 + z5
	z1, z2 := c1*-fix0899976223, c3*-fix2562915447
	tmp0, tmp1, tmp2, tmp3 := z1+z3, z2+z4, c3*fix3072711026+z2+z3, c1*fix1501321110+z1+z4
	const shift = jpegConstBits + jpegPass1Bits + 3
	out[0] = uint8(min(max(descale(tmp10+tmp3, shift)+128, 0), 255))
	out[7] = uint8(min(max(descale(tmp10-tmp3, shift)+128, 0), 255))
	out[1] = uint8(min(max(descale(tmp11+tmp2, shift)+128, 0), 255))
	out[6] = uint8(min(max(descale(tmp11-tmp2, shift)+128, 0), 255))
	out[2] = uint8(min(max(descale(tmp12+tmp1, shift)+128, 0), 255))
	out[5] = uint8(min(max(descale(tmp12-tmp1, shift)+128, 0), 255))
	out[3] = uint8(min(max(descale(tmp13+tmp0, shift)+128, 0), 255))
	out[4] = uint8(min(max(descale(tmp13-tmp0, shift)+128, 0), 255))
}

// idctEven is the even part of the inverse DCT from inputs 0, 2, 4, 6.
func idctEven(c0, c2, c4, c6 int32) (tmp10, tmp11, tmp12, tmp13 int32) {
	z1 := (c2 + c6) * fix0541196100
	tmp2 := z1 - c6*fix1847759065
	tmp3 := z1 + c2*fix0765366865
	tmp0 := (c0 + c4) << jpegConstBits
	tmp1 := (c0 - c4) << jpegConstBits
	return tmp0 + tmp3, tmp1 + tmp2, tmp1 - tmp2, tmp0 - tmp3
}

// idctOdd is the odd part of the inverse DCT from inputs 7, 5, 3, 1.
func idctOdd(tmp0, tmp1, tmp2, tmp3 int32) (int32, int32, int32, int32) {
	z1 := tmp0 + tmp3
	z2 := tmp1 + tmp2
	z3 := tmp0 + tmp2
	z4 := tmp1 + tmp3
	z5 := (z3 + z4) * fix1175875602
	z1 *= -fix0899976223
	z2 *= -fix2562915447
	z3 = z3*-fix1961570560 + z5
	z4 = z4*-fix0390180644 + z5
	return tmp0*fix0298631336 + z1 + z3, tmp1*fix2053119869 + z2 + z4,
		tmp2*fix3072711026 + z2 + z3, tmp3*fix1501321110 + z1 + z4
}

// Fixed-point colour conversion of the IJG library (16 fractional bits).
const (
	jpegScaleBits = 16
	jpegHalf      = 1 << (jpegScaleBits - 1)
)

func jpegFix(x float64) int32 { return int32(x*(1<<jpegScaleBits) + 0.5) }

var (
	fixRY, fixGY, fixBY     = jpegFix(0.29900), jpegFix(0.58700), jpegFix(0.11400)
	fixRCb, fixGCb, fixHalf = jpegFix(0.16874), jpegFix(0.33126), jpegFix(0.5)
	fixGCr, fixBCr          = jpegFix(0.41869), jpegFix(0.08131)
	fixCrR, fixCbB          = jpegFix(1.40200), jpegFix(1.77200)
	fixCrG, fixCbG          = jpegFix(0.71414), jpegFix(0.34414)
)

func (c *Corruptor) jpegSeverity(dst, src *imaging.Image, sev int) {
	c.jpegRoundTrip(dst, src, jpegQuality[sev])
}

// jpegRoundTrip writes to dst what encoding src as a baseline JPEG at quality (4:2:0 chroma for
// RGB) and decoding it gives. Planes are padded by edge replication to whole 16x16 units, as the
// encoder pads; the decoder's upsampling replicates the edge chroma samples.
func (c *Corruptor) jpegRoundTrip(dst, src *imaging.Image, quality int) {
	lq, cq := c.jpegTables(quality)
	vector := jpegVectorEnabled && !c.jpegScalar
	w, h := src.Width, src.Height
	pw, ph := (w+15)&^15, (h+15)&^15
	if src.Channels == 1 {
		// A gray image is an RGB image with equal channels: its chroma is exactly neutral and its
		// luma is the value itself, so only the luma plane is compressed.
		y := c.jpegBytes(0, pw*ph)
		for row := range ph {
			d := y[row*pw : (row+1)*pw]
			copy(d, src.Pix[min(row, h-1)*w:min(row, h-1)*w+w])
			for x := w; x < pw; x++ {
				d[x] = d[w-1]
			}
		}
		jpegPlane(y, pw, ph, lq, vector)
		for row := range h {
			copy(dst.Pix[row*w:(row+1)*w], y[row*pw:row*pw+w])
		}
		return
	}
	// The image is processed in strips of one MCU row (16 pixel rows), so that the working set
	// stays in the first cache levels as in the IJG library: convert and subsample the strip,
	// compress and reconstruct its blocks, then decode the rows whose chroma neighbours are
	// ready. Decoding lags one chroma row behind (its lower neighbour comes with the next strip),
	// so two luma strips are kept.
	cw, chh := pw/2, ph/2
	ys := c.jpegBytes(0, 2*16*pw)
	cb := c.jpegBytes(1, cw*chh)
	cr := c.jpegBytes(2, cw*chh)
	vw, vh := (w+1)/2, (h+1)/2
	rows := c.jpegPacked(3 * vw) // packed chroma rows, a ring of three
	pack := func(dst []uint64, r int) {
		b, q := cb[r*cw:r*cw+len(dst)], cr[r*cw:r*cw+len(dst)]
		for i := range dst {
			dst[i] = uint64(b[i]) | uint64(q[i])<<32
		}
	}
	slot := func(r int) []uint64 { return rows[(r%3)*vw : (r%3+1)*vw] }
	packed := 0 // first chroma row not packed yet
	next := 0   // first chroma row not decoded yet
	strips := ph / 16
	for m := range strips {
		strip := ys[(m&1)*16*pw : (m&1+1)*16*pw]
		for j := range 8 {
			r := 16*m + 2*j
			jpegEncodeRows(vector, strip[2*j*pw:(2*j+2)*pw], cb[(8*m+j)*cw:(8*m+j+1)*cw], cr[(8*m+j)*cw:(8*m+j+1)*cw],
				src.Pix[min(r, h-1)*w*3:][:3*w], src.Pix[min(r+1, h-1)*w*3:][:3*w], w, pw)
		}
		jpegPlane(strip, pw, 16, lq, vector)
		jpegPlane(cb[8*m*cw:(8*m+8)*cw], cw, 8, cq, vector)
		jpegPlane(cr[8*m*cw:(8*m+8)*cw], cw, 8, cq, vector)
		last := min(8*m+6, vh-1) // the last chroma row whose lower neighbour is reconstructed
		if m == strips-1 {
			last = vh - 1
		}
		for ; next <= last; next++ {
			r := next
			// The scalar path reads packed chroma rows: row r needs rows r-1..r+1 packed; each
			// row is packed once, into slot row%3. The vector path reads the planes' bytes.
			for ; !vector && packed <= min(r+1, vh-1); packed++ {
				pack(slot(packed), packed)
			}
			for k, far := range [2]int{max(r-1, 0), min(r+1, vh-1)} {
				row := 2*r + k
				if row >= h {
					break
				}
				out, ls := dst.Pix[row*w*3:(row+1)*w*3], ys[((row/16)&1)*16*pw+(row%16)*pw:][:w]
				if vector {
					jpegDecodeRowVector(out, ls, cb[r*cw:r*cw+vw], cb[far*cw:far*cw+vw], cr[r*cw:r*cw+vw], cr[far*cw:far*cw+vw])
				} else {
					jpegDecodeRow(out, ls, slot(r), slot(far))
				}
			}
		}
	}
}

// jpegEncodeRows converts two image rows (s0, s1: w RGB pixels; the bottom row repeats the top
// one past the image) into two rows of the padded luma plane y (stride pw) and one row each of
// the subsampled chroma planes. Each chroma sample is the mean of four full-resolution ones,
// each rounded to 8 bits first, with the bias alternating 1, 2 along the row; columns past the
// image repeat its last one.
//
// Cb and Cr are computed together in the two 32-bit halves of one uint64: each channel's
// products with both coefficients are one 64-bit multiply, and because both final values are
// non-negative and below 2^32, wrapping arithmetic leaves each half exact even though some
// terms are negative.
func jpegEncodeRows(vector bool, y, cb, cr []uint8, s0, s1 []uint8, w, pw int) {
	if vector {
		jpegEncodeRowsVector(y, cb, cr, s0, s1, w, pw)
		return
	}
	jpegEncodeRowsFrom(y, cb, cr, s0, s1, w, pw, 0)
}

// jpegEncodeRowsFrom is jpegEncodeRows from chroma column from on (the vector path did those before).
func jpegEncodeRowsFrom(y, cb, cr []uint8, s0, s1 []uint8, w, pw, from int) {
	y0, y1 := y[:pw], y[pw:2*pw]
	cr = cr[:len(cb)]
	conv := func(p []uint8) (int32, uint64) {
		r, g, b := int32(p[0]), int32(p[1]), int32(p[2])
		yy := (fixRY*r + fixGY*g + fixBY*b + jpegHalf) >> jpegScaleBits
		c := uint64(r)*packRC + uint64(g)*packGC + uint64(b)*packBC + packOffset
		return yy, (c >> jpegScaleBits) & 0x0000ffff0000ffff
	}
	bias := uint64(1 | 1<<32)
	if from&1 == 1 {
		bias = 2 | 2<<32
	}
	inner := min(w/2, len(cb)) // pairs of columns inside the image
	// Inside the image the two pixels of a row pair share the multiplies of their luma: one pixel
	// in each 32-bit half, whose sums stay below 2^24, so the halves never carry into each other.
	const yHalf2 = jpegHalf | jpegHalf<<32
	ry, gy, by := uint64(fixRY), uint64(fixGY), uint64(fixBY)
	chroma := func(r, g, b uint64) uint64 {
		return (r*packRC + g*packGC + b*packBC + packOffset) >> jpegScaleBits & 0x0000ffff0000ffff
	}
	for i := from; i < inner; i++ {
		p0, p1 := (*[6]uint8)(s0[6*i:6*i+6]), (*[6]uint8)(s1[6*i:6*i+6])
		ra, ga, ba := uint64(p0[0]), uint64(p0[1]), uint64(p0[2])
		rb, gb, bb := uint64(p0[3]), uint64(p0[4]), uint64(p0[5])
		rc, gc, bc := uint64(p1[0]), uint64(p1[1]), uint64(p1[2])
		rd, gd, bd := uint64(p1[3]), uint64(p1[4]), uint64(p1[5])
		top := ((ra|rb<<32)*ry + (ga|gb<<32)*gy + (ba|bb<<32)*by + yHalf2) >> jpegScaleBits
		bot := ((rc|rd<<32)*ry + (gc|gd<<32)*gy + (bc|bd<<32)*by + yHalf2) >> jpegScaleBits
		y0[2*i], y0[2*i+1], y1[2*i], y1[2*i+1] = uint8(top), uint8(top>>32), uint8(bot), uint8(bot>>32)
		sum := (chroma(ra, ga, ba) + chroma(rb, gb, bb) + chroma(rc, gc, bc) + chroma(rd, gd, bd) + bias) >> 2
		cb[i] = uint8(sum)
		cr[i] = uint8(sum >> 32)
		bias ^= 3 | 3<<32
	}
	for i := max(inner, from); i < len(cb); i++ { // the padding: columns past the image repeat its last
		x0, x1 := min(2*i, w-1), min(2*i+1, w-1)
		ya, ca := conv(s0[3*x0 : 3*x0+3 : 3*x0+3])
		yb, cb2 := conv(s0[3*x1 : 3*x1+3 : 3*x1+3])
		yc, cc := conv(s1[3*x0 : 3*x0+3 : 3*x0+3])
		yd, cd := conv(s1[3*x1 : 3*x1+3 : 3*x1+3])
		y0[2*i], y0[2*i+1], y1[2*i], y1[2*i+1] = uint8(ya), uint8(yb), uint8(yc), uint8(yd)
		sum := (ca + cb2 + cc + cd + bias) >> 2
		cb[i] = uint8(sum)
		cr[i] = uint8(sum >> 32)
		bias ^= 3 | 3<<32
	}
}

// Packed chroma coefficients of jpegEncodeRows: Cb's in the low half, Cr's in the high half,
// as 64-bit two's complement (so uint64(x)*pack is the pair of products modulo 2^64).
var (
	packRC     = pack2(-fixRCb, fixHalf)
	packGC     = pack2(-fixGCb, -fixGCr)
	packBC     = pack2(fixHalf, -fixBCr)
	packOffset = pack2(128<<jpegScaleBits+jpegHalf-1, 128<<jpegScaleBits+jpegHalf-1)
)

func pack2(lo, hi int32) uint64 { return uint64(int64(lo) + int64(hi)<<32) }

// jpegDecodeRow writes one output row: luma yr, and chroma upsampled by two in both directions
// from the row it lies in (near) and its other neighbour row (far): vertically 3/4 near + 1/4
// far, horizontally 3/4 the nearer column + 1/4 the other, in 4-bit fixed point with the IJG
// library's rounding (the "fancy" triangle filter; the edge columns repeat), then converted to
// RGB. Chroma samples hold Cb in the low and Cr in the high 32 bits; the filter's sums stay
// below 2^14, so both channels are filtered by the same integer operations.
func jpegDecodeRow(out []uint8, yr []uint8, near, far []uint64) {
	tab := &jpegColourPacked
	n := len(near)
	far = far[:n]
	const mask = 0x0000ffff0000ffff
	const r8, r7 = 8 | 8<<32, 7 | 7<<32 // rounding of the even and odd output columns
	put := func(x int, v uint64) {
		if x >= len(yr) {
			return
		}
		jpegPixel((*[3]uint8)(out[3*x:3*x+3]), int32(yr[x]), tab.cr[uint8(v>>32)], tab.cb[uint8(v)])
	}
	this := near[0]*3 + far[0]
	if n == 1 {
		put(0, (this*4+r8)>>4&mask)
		put(1, (this*4+r7)>>4&mask)
		return
	}
	last := this // the first column's left neighbour is itself (weights 4 = 3+1)
	// Chroma columns whose two output pixels are both inside the row and that have a right
	// neighbour: no edge cases.
	inner := min(n-1, len(yr)/2)
	yr2 := yr[:2*inner]
	out = out[:6*inner]
	for i := range inner {
		next := near[i+1]*3 + far[i+1]
		e, o := (this*3+last+r8)>>4&mask, (this*3+next+r7)>>4&mask
		y := yr2[2*i : 2*i+2 : 2*i+2]
		y0, y1 := int32(y[0]), int32(y[1])
		p := (*[6]uint8)(out[6*i : 6*i+6])
		jpegPixel((*[3]uint8)(p[0:3]), y0, tab.cr[uint8(e>>32)], tab.cb[uint8(e)])
		jpegPixel((*[3]uint8)(p[3:6]), y1, tab.cr[uint8(o>>32)], tab.cb[uint8(o)])
		last, this = this, next
	}
	out = out[:cap(out)]
	for i := inner; i < n; i++ {
		next := this // the last column's right neighbour is itself
		if i+1 < n {
			next = near[i+1]*3 + far[i+1]
		}
		put(2*i, (this*3+last+r8)>>4&mask)
		put(2*i+1, (this*3+next+r7)>>4&mask)
		last, this = this, next
	}
}

// jpegRange clamps v to 0..255 as jpegRange[(v+jpegRangeOffset)&1023], for the decoder's
// colour conversion, whose values stay within -300..600.
var jpegRange = func() (t [1024]uint8) {
	for i := range t {
		t[i] = uint8(min(max(i-jpegRangeOffset, 0), 255))
	}
	return t
}()

const jpegRangeOffset = 384

// jpegPixel converts one decoded pixel: luma y and the packed chroma terms of jpegColourPacked.
func jpegPixel(p *[3]uint8, y int32, cr, cb uint64) {
	p[0] = jpegRange[(y+int32(uint32(cr)))&1023]
	p[1] = jpegRange[(y+int32(int64(cr+cb)>>(32+jpegScaleBits))+jpegRangeOffset)&1023]
	p[2] = jpegRange[(y+int32(uint32(cb)))&1023]
}

// jpegColourPacked holds the terms of jpegColourTables two to an entry, so that a pixel takes
// two table loads instead of four: per Cr level, the green term in the high 32 bits (signed)
// and the red term plus jpegRangeOffset in the low ones; per Cb level the same with the blue
// term. The low halves are non-negative and their sum stays below 2^11, so adding two entries
// adds the green terms without a carry from below, and shifting the sum right by 48 is the
// green term's arithmetic shift by 16.
var jpegColourPacked = func() (t struct{ cr, cb [256]uint64 }) {
	c := &jpegColourTables
	for i := range 256 {
		t.cr[i] = uint64(int64(c.crG[i])<<32 + int64(c.crR[i]+jpegRangeOffset))
		t.cb[i] = uint64(int64(c.cbG[i])<<32 + int64(c.cbB[i]+jpegRangeOffset))
	}
	return t
}()

// jpegColourTables are the decoder's YCbCr-to-RGB terms per chroma level, as the IJG library
// tabulates them: Cr's red and Cb's blue terms rounded to integers, the green terms in 16-bit
// fixed point (rounding folded into Cb's).
var jpegColourTables = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	for i := range 256 {
		x := int32(i) - 128
		t.crR[i] = (fixCrR*x + jpegHalf) >> jpegScaleBits
		t.cbB[i] = (fixCbB*x + jpegHalf) >> jpegScaleBits
		t.crG[i] = -fixCrG * x
		t.cbG[i] = -fixCbG*x + jpegHalf
	}
	return t
}()

// jpegTables returns the scaled luma and chroma tables for quality, cached per Corruptor.
func (c *Corruptor) jpegTables(quality int) (*jpegQuant, *jpegQuant) {
	if c.jpegQ == nil {
		c.jpegQ = make(map[int][2]*jpegQuant)
	}
	t, ok := c.jpegQ[quality]
	if !ok {
		t = [2]*jpegQuant{newJPEGQuant(&jpegLumaTable, quality), newJPEGQuant(&jpegChromaTable, quality)}
		c.jpegQ[quality] = t
	}
	return t[0], t[1]
}

// jpegPacked returns the reusable packed chroma plane with length n.
func (c *Corruptor) jpegPacked(n int) []uint64 {
	if cap(c.jpegCC) < n {
		c.jpegCC = make([]uint64, n)
	}
	return c.jpegCC[:n]
}

// jpegBytes returns reusable 8-bit plane i (0..2) with length n.
func (c *Corruptor) jpegBytes(i, n int) []uint8 {
	if cap(c.jpegPlanes[i]) < n {
		c.jpegPlanes[i] = make([]uint8, n)
	}
	return c.jpegPlanes[i][:n]
}
