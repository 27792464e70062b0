//go:build amd64 && !purego

#include "textflag.h"
#include "go_asm.h"

// AVX2 kernels of jpeg_compression (see jpeg_amd64.go). Operands are in Go's order: sources
// first, the destination last; VPSUBD a, b, c is c = b - a.
//
// One 8x8 block is eight registers, Y0..Y7, one row each (or one column, after a transpose);
// every pass reads them and leaves its output there, with Y8..Y15 as scratch. Each 1-D pass of
// the islow DCT combines whole registers: the eight lanes are eight independent rows or columns.

// Constants, relative to CX (a *jpegAsmConsts).
#define C0298 jpegAsmConsts_fix0298(CX)
#define C0541 jpegAsmConsts_fix0541(CX)
#define C0765 jpegAsmConsts_fix0765(CX)
#define C1175 jpegAsmConsts_fix1175(CX)
#define C1501 jpegAsmConsts_fix1501(CX)
#define C1847 jpegAsmConsts_fix1847(CX)
#define C2053 jpegAsmConsts_fix2053(CX)
#define C3072 jpegAsmConsts_fix3072(CX)
#define N0390 jpegAsmConsts_neg0390(CX)
#define N0899 jpegAsmConsts_neg0899(CX)
#define N1961 jpegAsmConsts_neg1961(CX)
#define N2562 jpegAsmConsts_neg2562(CX)
#define ROUND2 jpegAsmConsts_round2(CX)
#define ROUND11 jpegAsmConsts_round11(CX)
#define ROUND15 jpegAsmConsts_round15(CX)
#define OUTBIAS jpegAsmConsts_outBias(CX)
#define ZERO jpegAsmConsts_zero(CX)
#define MAX8 jpegAsmConsts_max8(CX)
#define K128 jpegAsmConsts_c128(CX)
#define MINUS1 jpegAsmConsts_minus1(CX)
#define K7 jpegAsmConsts_c7(CX)
#define K8 jpegAsmConsts_c8(CX)
#define HALF16 jpegAsmConsts_half16(CX)
#define CRR jpegAsmConsts_crR(CX)
#define CRG jpegAsmConsts_crG(CX)
#define CBG jpegAsmConsts_cbG(CX)
#define CBB jpegAsmConsts_cbB(CX)
#define RY jpegAsmConsts_ry(CX)
#define GY jpegAsmConsts_gy(CX)
#define BY jpegAsmConsts_by(CX)
#define RCB jpegAsmConsts_rcb(CX)
#define GCB jpegAsmConsts_gcb(CX)
#define BCB jpegAsmConsts_bcb(CX)
#define RCR jpegAsmConsts_rcr(CX)
#define GCR jpegAsmConsts_gcr(CX)
#define BCR jpegAsmConsts_bcr(CX)
#define CHROMAOFF jpegAsmConsts_chromaOff(CX)
#define BIAS12 jpegAsmConsts_bias12(CX)
#define PICKR jpegAsmConsts_pickR(CX)
#define PICKG jpegAsmConsts_pickG(CX)
#define PICKB jpegAsmConsts_pickB(CX)
#define RGBBYTES jpegAsmConsts_rgbBytes(CX)
#define CHROMABYTES jpegAsmConsts_chromaBytes(CX)

// DESCALE divides r by 2^n with rounding (round = 1 << (n-1)).
#define DESCALE(r, round, n) VPADDD round, r, r; VPSRAD $n, r, r

// TRANSPOSE8 transposes the 8x8 matrix of 32-bit lanes in Y0..Y7.
#define TRANSPOSE8 \
	VPUNPCKLDQ Y1, Y0, Y8; VPUNPCKHDQ Y1, Y0, Y9; \
	VPUNPCKLDQ Y3, Y2, Y10; VPUNPCKHDQ Y3, Y2, Y11; \
	VPUNPCKLDQ Y5, Y4, Y12; VPUNPCKHDQ Y5, Y4, Y13; \
	VPUNPCKLDQ Y7, Y6, Y14; VPUNPCKHDQ Y7, Y6, Y15; \
	VPUNPCKLQDQ Y10, Y8, Y0; VPUNPCKHQDQ Y10, Y8, Y1; \
	VPUNPCKLQDQ Y11, Y9, Y2; VPUNPCKHQDQ Y11, Y9, Y3; \
	VPUNPCKLQDQ Y14, Y12, Y4; VPUNPCKHQDQ Y14, Y12, Y5; \
	VPUNPCKLQDQ Y15, Y13, Y6; VPUNPCKHQDQ Y15, Y13, Y7; \
	VPERM2I128 $0x20, Y4, Y0, Y8; VPERM2I128 $0x31, Y4, Y0, Y4; \
	VPERM2I128 $0x20, Y5, Y1, Y9; VPERM2I128 $0x31, Y5, Y1, Y5; \
	VPERM2I128 $0x20, Y6, Y2, Y10; VPERM2I128 $0x31, Y6, Y2, Y6; \
	VPERM2I128 $0x20, Y7, Y3, Y11; VPERM2I128 $0x31, Y7, Y3, Y7; \
	VMOVDQA Y8, Y0; VMOVDQA Y9, Y1; VMOVDQA Y10, Y2; VMOVDQA Y11, Y3

// FDCT_FRONT is the first stages of both forward passes, from d0..d7 in Y0..Y7: tmp10, tmp11,
// tmp12, tmp13 to Y0, Y1, Y2, Y3 and tmp4..tmp7 to Y4..Y7.
#define FDCT_FRONT \
	VPADDD Y7, Y0, Y8; VPSUBD Y7, Y0, Y7; \
	VPADDD Y6, Y1, Y9; VPSUBD Y6, Y1, Y6; \
	VPADDD Y5, Y2, Y10; VPSUBD Y5, Y2, Y5; \
	VPADDD Y4, Y3, Y11; VPSUBD Y4, Y3, Y4; \
	VPADDD Y11, Y8, Y0; VPSUBD Y11, Y8, Y3; \
	VPADDD Y10, Y9, Y1; VPSUBD Y10, Y9, Y2

// FDCT_EVEN2 computes outputs 2 and 6 before descaling into Y10 and Y14 (needs Y2, Y3;
// clobbers Y0).
#define FDCT_EVEN2 \
	VPADDD Y3, Y2, Y0; VPMULLD C0541, Y0, Y0; \
	VPMULLD C0765, Y3, Y10; VPADDD Y0, Y10, Y10; \
	VPMULLD C1847, Y2, Y14; VPSUBD Y14, Y0, Y14

// ODD computes the odd part of the (inverse) DCT in place, from a, b, c, d in Y4, Y5, Y6, Y7
// to its four outputs there, with Y0..Y3 and Y9 as scratch.
#define ODD \
	VPADDD Y7, Y4, Y0; VPADDD Y6, Y5, Y1; \
	VPADDD Y6, Y4, Y2; VPADDD Y7, Y5, Y3; \
	VPADDD Y3, Y2, Y9; VPMULLD C1175, Y9, Y9; \
	VPMULLD N0899, Y0, Y0; VPMULLD N2562, Y1, Y1; \
	VPMULLD N1961, Y2, Y2; VPADDD Y9, Y2, Y2; \
	VPMULLD N0390, Y3, Y3; VPADDD Y9, Y3, Y3; \
	VPMULLD C0298, Y4, Y4; VPADDD Y0, Y4, Y4; VPADDD Y2, Y4, Y4; \
	VPMULLD C2053, Y5, Y5; VPADDD Y1, Y5, Y5; VPADDD Y3, Y5, Y5; \
	VPMULLD C3072, Y6, Y6; VPADDD Y1, Y6, Y6; VPADDD Y2, Y6, Y6; \
	VPMULLD C1501, Y7, Y7; VPADDD Y0, Y7, Y7; VPADDD Y3, Y7, Y7

// FDCT_BACK puts the forward pass's outputs 0..7 (in Y8, Y7, Y10, Y6, Y12, Y5, Y14, Y4) back
// into Y0..Y7.
#define FDCT_BACK \
	VMOVDQA Y8, Y0; VMOVDQA Y10, Y2; VMOVDQA Y7, Y1; VMOVDQA Y4, Y7; \
	VMOVDQA Y12, Y4; VMOVDQA Y6, Y3; VMOVDQA Y14, Y6

// FDCT_ROWS is fdctRow on each lane: the forward DCT's first pass, keeping two extra bits.
#define FDCT_ROWS \
	FDCT_FRONT; \
	VPADDD Y1, Y0, Y8; VPSLLD $2, Y8, Y8; \
	VPSUBD Y1, Y0, Y12; VPSLLD $2, Y12, Y12; \
	FDCT_EVEN2; \
	DESCALE(Y10, ROUND11, 11); DESCALE(Y14, ROUND11, 11); \
	ODD; \
	DESCALE(Y4, ROUND11, 11); DESCALE(Y5, ROUND11, 11); \
	DESCALE(Y6, ROUND11, 11); DESCALE(Y7, ROUND11, 11); \
	FDCT_BACK

// FDCT_COLUMNS is fdctColumn on each lane: the second pass, removing the extra bits.
#define FDCT_COLUMNS \
	FDCT_FRONT; \
	VPADDD Y1, Y0, Y8; DESCALE(Y8, ROUND2, 2); \
	VPSUBD Y1, Y0, Y12; DESCALE(Y12, ROUND2, 2); \
	FDCT_EVEN2; \
	DESCALE(Y10, ROUND15, 15); DESCALE(Y14, ROUND15, 15); \
	ODD; \
	DESCALE(Y4, ROUND15, 15); DESCALE(Y5, ROUND15, 15); \
	DESCALE(Y6, ROUND15, 15); DESCALE(Y7, ROUND15, 15); \
	FDCT_BACK

// QUANTIZE is jpegQuant.quantize on row r (register y, table row offset off) of the
// coefficients: round |v|/(8q) half up, restore the sign, multiply by q. n = |v| + 4q is below
// 2^19, so n is exact in float32 and n*(1/8q) is within n*2^-23 < 1/(8q) of n/(8q): truncated,
// it is the integer quotient or, only where n/(8q) is an integer, one less (never more: the
// next integer up is at least 1/(8q) away). One step corrects that: add one where the
// remainder is still 8q or more.
// Scratch Y8..Y11; DX is the *jpegVecTable.
#define QUANTIZE(y, off) \
	VPABSD y, Y8; VPADDD (jpegVecTable_half+off)(DX), Y8, Y8; \
	VCVTDQ2PS Y8, Y9; VMULPS (jpegVecTable_inv+off)(DX), Y9, Y9; VCVTTPS2DQ Y9, Y9; \
	VPMULLD (jpegVecTable_d+off)(DX), Y9, Y10; VPSUBD Y10, Y8, Y10; \
	VPSUBD (jpegVecTable_d+off)(DX), Y10, Y10; VPCMPGTD MINUS1, Y10, Y11; VPSUBD Y11, Y9, Y9; \
	VPMULLD (jpegVecTable_q+off)(DX), Y9, Y9; VPSIGND y, Y9, y

// IDCT is one pass of the inverse DCT from d0..d7 in Y0..Y7: its eight outputs, before
// descaling, in Y8..Y15.
#define IDCT \
	VPADDD Y6, Y2, Y8; VPMULLD C0541, Y8, Y8; \
	VPMULLD C1847, Y6, Y9; VPSUBD Y9, Y8, Y9; \
	VPMULLD C0765, Y2, Y10; VPADDD Y8, Y10, Y10; \
	VPADDD Y4, Y0, Y11; VPSLLD $13, Y11, Y11; \
	VPSUBD Y4, Y0, Y12; VPSLLD $13, Y12, Y12; \
	VPADDD Y10, Y11, Y0; VPSUBD Y10, Y11, Y2; \
	VPADDD Y9, Y12, Y4; VPSUBD Y9, Y12, Y6; \
	VPADDD Y1, Y7, Y8; VPADDD Y3, Y5, Y9; \
	VPADDD Y3, Y7, Y10; VPADDD Y1, Y5, Y11; \
	VPADDD Y11, Y10, Y12; VPMULLD C1175, Y12, Y12; \
	VPMULLD N0899, Y8, Y8; VPMULLD N2562, Y9, Y9; \
	VPMULLD N1961, Y10, Y10; VPADDD Y12, Y10, Y10; \
	VPMULLD N0390, Y11, Y11; VPADDD Y12, Y11, Y11; \
	VPMULLD C0298, Y7, Y7; VPADDD Y8, Y7, Y7; VPADDD Y10, Y7, Y7; \
	VPMULLD C2053, Y5, Y5; VPADDD Y9, Y5, Y5; VPADDD Y11, Y5, Y5; \
	VPMULLD C3072, Y3, Y3; VPADDD Y9, Y3, Y3; VPADDD Y10, Y3, Y3; \
	VPMULLD C1501, Y1, Y1; VPADDD Y8, Y1, Y1; VPADDD Y11, Y1, Y1; \
	VPADDD Y1, Y0, Y8; VPSUBD Y1, Y0, Y15; \
	VPADDD Y3, Y4, Y9; VPSUBD Y3, Y4, Y14; \
	VPADDD Y5, Y6, Y10; VPSUBD Y5, Y6, Y13; \
	VPADDD Y7, Y2, Y11; VPSUBD Y7, Y2, Y12

// IDCT_OUT1 descales the first inverse pass's output j (in Y(8+j)) into Yj.
#define IDCT_OUT1(src, dst) VPADDD ROUND11, src, dst; VPSRAD $11, dst, dst

// IDCT_OUT2 finishes the second pass: descale, undo the level shift, clamp to 0..255.
#define IDCT_OUT2(src, dst) VPADDD OUTBIAS, src, dst; VPSRAD $18, dst, dst; VPMAXSD ZERO, dst, dst; VPMINSD MAX8, dst, dst

// STORE8 writes the low bytes of the eight lanes of y (0..255; x is its low half) to m.
#define STORE8(y, x, m) VEXTRACTI128 $1, y, X12; VPACKUSDW X12, x, X12; VPACKUSWB X12, X12, X12; VMOVQ X12, m

// func jpegBlockAVX2(p *uint8, stride int, k *jpegAsmConsts, t *jpegVecTable, flatEnergy int64) (sum int32, flat bool)
TEXT ·jpegBlockAVX2(SB), NOSPLIT, $0-45
	MOVQ p+0(FP), SI
	MOVQ stride+8(FP), BX
	MOVQ k+16(FP), CX
	MOVQ t+24(FP), DX
	LEAQ (BX)(BX*2), R8 // 3 rows
	LEAQ (SI)(BX*4), DI // row 4
	VPMOVZXBD (SI), Y0
	VPMOVZXBD (SI)(BX*1), Y1
	VPMOVZXBD (SI)(BX*2), Y2
	VPMOVZXBD (SI)(R8*1), Y3
	VPMOVZXBD (DI), Y4
	VPMOVZXBD (DI)(BX*1), Y5
	VPMOVZXBD (DI)(BX*2), Y6
	VPMOVZXBD (DI)(R8*1), Y7
	VMOVDQU K128, Y8
	VPSUBD Y8, Y0, Y0
	VPSUBD Y8, Y1, Y1
	VPSUBD Y8, Y2, Y2
	VPSUBD Y8, Y3, Y3
	VPSUBD Y8, Y4, Y4
	VPSUBD Y8, Y5, Y5
	VPSUBD Y8, Y6, Y6
	VPSUBD Y8, Y7, Y7

	// The flatness test: the sum and the sum of squares of the samples.
	VPADDD Y1, Y0, Y8
	VPADDD Y2, Y8, Y8
	VPADDD Y3, Y8, Y8
	VPADDD Y4, Y8, Y8
	VPADDD Y5, Y8, Y8
	VPADDD Y6, Y8, Y8
	VPADDD Y7, Y8, Y8
	VPMULLD Y0, Y0, Y9
	VPMULLD Y1, Y1, Y10
	VPADDD Y10, Y9, Y9
	VPMULLD Y2, Y2, Y10
	VPADDD Y10, Y9, Y9
	VPMULLD Y3, Y3, Y10
	VPADDD Y10, Y9, Y9
	VPMULLD Y4, Y4, Y10
	VPADDD Y10, Y9, Y9
	VPMULLD Y5, Y5, Y10
	VPADDD Y10, Y9, Y9
	VPMULLD Y6, Y6, Y10
	VPADDD Y10, Y9, Y9
	VPMULLD Y7, Y7, Y10
	VPADDD Y10, Y9, Y9
	VEXTRACTI128 $1, Y8, X10
	VPADDD X10, X8, X8
	VPSHUFD $0x4e, X8, X10
	VPADDD X10, X8, X8
	VPSHUFD $0xb1, X8, X10
	VPADDD X10, X8, X8
	VMOVD X8, AX
	VEXTRACTI128 $1, Y9, X10
	VPADDD X10, X9, X9
	VPSHUFD $0x4e, X9, X10
	VPADDD X10, X9, X9
	VPSHUFD $0xb1, X9, X10
	VPADDD X10, X9, X9
	VMOVD X9, R9
	MOVL AX, sum+40(FP)
	MOVLQSX AX, R10
	IMULQ R10, R10
	SHLQ $6, R9
	SUBQ R10, R9
	CMPQ R9, flatEnergy+32(FP)
	JGE transform
	MOVB $1, flat+44(FP)
	VZEROUPPER
	RET

transform:
	MOVB $0, flat+44(FP)
	TRANSPOSE8 // Y0..Y7 hold columns: the row pass combines them
	FDCT_ROWS
	TRANSPOSE8 // rows again: the column pass
	FDCT_COLUMNS
	QUANTIZE(Y0, 0)
	QUANTIZE(Y1, 32)
	QUANTIZE(Y2, 64)
	QUANTIZE(Y3, 96)
	QUANTIZE(Y4, 128)
	QUANTIZE(Y5, 160)
	QUANTIZE(Y6, 192)
	QUANTIZE(Y7, 224)
	IDCT // over columns
	IDCT_OUT1(Y8, Y0)
	IDCT_OUT1(Y9, Y1)
	IDCT_OUT1(Y10, Y2)
	IDCT_OUT1(Y11, Y3)
	IDCT_OUT1(Y12, Y4)
	IDCT_OUT1(Y13, Y5)
	IDCT_OUT1(Y14, Y6)
	IDCT_OUT1(Y15, Y7)
	TRANSPOSE8
	IDCT // over rows, as columns of the transpose
	IDCT_OUT2(Y8, Y0)
	IDCT_OUT2(Y9, Y1)
	IDCT_OUT2(Y10, Y2)
	IDCT_OUT2(Y11, Y3)
	IDCT_OUT2(Y12, Y4)
	IDCT_OUT2(Y13, Y5)
	IDCT_OUT2(Y14, Y6)
	IDCT_OUT2(Y15, Y7)
	TRANSPOSE8
	STORE8(Y0, X0, (SI))
	STORE8(Y1, X1, (SI)(BX*1))
	STORE8(Y2, X2, (SI)(BX*2))
	STORE8(Y3, X3, (SI)(R8*1))
	STORE8(Y4, X4, (DI))
	STORE8(Y5, X5, (DI)(BX*1))
	STORE8(Y6, X6, (DI)(BX*2))
	STORE8(Y7, X7, (DI)(R8*1))
	VZEROUPPER
	RET

// CONVERT8 converts the eight RGB pixels at src (reading 28 bytes) to luma, Cb and Cr (before
// subsampling) in yy, ycb, ycr, with jpegEncodeRows' fixed-point arithmetic. Scratch Y8..Y12.
#define CONVERT8(src, yy, ycb, ycr) \
	VMOVDQU (src), X8; VINSERTI128 $1, 12(src), Y8, Y8; \
	VPSHUFB PICKR, Y8, Y9; VPSHUFB PICKG, Y8, Y10; VPSHUFB PICKB, Y8, Y11; \
	VPMULLD RY, Y9, yy; VPMULLD GY, Y10, Y12; VPADDD Y12, yy, yy; \
	VPMULLD BY, Y11, Y12; VPADDD Y12, yy, yy; VPADDD HALF16, yy, yy; VPSRAD $16, yy, yy; \
	VPMULLD RCB, Y9, ycb; VPMULLD GCB, Y10, Y12; VPADDD Y12, ycb, ycb; \
	VPMULLD BCB, Y11, Y12; VPADDD Y12, ycb, ycb; VPADDD CHROMAOFF, ycb, ycb; VPSRAD $16, ycb, ycb; \
	VPMULLD RCR, Y9, ycr; VPMULLD GCR, Y10, Y12; VPADDD Y12, ycr, ycr; \
	VPMULLD BCR, Y11, Y12; VPADDD Y12, ycr, ycr; VPADDD CHROMAOFF, ycr, ycr; VPSRAD $16, ycr, ycr

// func jpegEncodeAVX2(y0, y1, cb, cr, s0, s1 *uint8, n int, k *jpegAsmConsts)
TEXT ·jpegEncodeAVX2(SB), NOSPLIT, $0-64
	MOVQ y0+0(FP), DI
	MOVQ y1+8(FP), R8
	MOVQ cb+16(FP), R9
	MOVQ cr+24(FP), R10
	MOVQ s0+32(FP), SI
	MOVQ s1+40(FP), R11
	MOVQ n+48(FP), BX
	MOVQ k+56(FP), CX
	TESTQ BX, BX
	JZ encodeDone

encodeLoop:
	CONVERT8(SI, Y0, Y1, Y2)
	CONVERT8(R11, Y3, Y4, Y5)
	STORE8(Y0, X0, (DI))
	STORE8(Y3, X3, (R8))
	// Each chroma sample is the mean of its four pixels: both rows, then neighbouring columns.
	// Lanes: Cb 0, 1, Cr 0, 1 | Cb 2, 3, Cr 2, 3.
	VPADDD Y4, Y1, Y1
	VPADDD Y5, Y2, Y2
	VPHADDD Y2, Y1, Y1
	VPADDD BIAS12, Y1, Y1
	VPSRAD $2, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	VPACKUSDW X2, X1, X1
	VPACKUSWB X1, X1, X1
	VPSHUFB CHROMABYTES, X1, X1
	VMOVD X1, (R9)
	VPEXTRD $1, X1, (R10)
	ADDQ $24, SI
	ADDQ $24, R11
	ADDQ $8, DI
	ADDQ $8, R8
	ADDQ $4, R9
	ADDQ $4, R10
	DECQ BX
	JNZ encodeLoop

encodeDone:
	VZEROUPPER
	RET

// AT3 loads three times the near row plus the far row at byte offset off of the chroma column
// pointers near and far, eight columns, into dst (scratch t).
#define AT3(near, far, off, dst, t) \
	VPMOVZXBD off(near), dst; VPMOVZXBD off(far), t; VPADDD t, dst, t; VPSLLD $1, dst, dst; VPADDD t, dst, dst

// UPSAMPLE is the triangle filter of jpegDecodeRow for eight chroma columns of one channel: the
// even output samples to e, the odd ones to o, in pixel order as two registers p0 (pixels 0..7)
// and p1 (8..15). Scratch Y8..Y12.
#define UPSAMPLE(near, far, p0, p1) \
	AT3(near, far, 0, Y8, Y12); AT3(near, far, -1, Y9, Y12); AT3(near, far, 1, Y10, Y12); \
	VPSLLD $1, Y8, Y11; VPADDD Y11, Y8, Y8; \
	VPADDD Y9, Y8, Y9; VPADDD K8, Y9, Y9; VPSRAD $4, Y9, Y9; \
	VPADDD Y10, Y8, Y10; VPADDD K7, Y10, Y10; VPSRAD $4, Y10, Y10; \
	VPUNPCKLDQ Y10, Y9, Y11; VPUNPCKHDQ Y10, Y9, Y12; \
	VPERM2I128 $0x20, Y12, Y11, p0; VPERM2I128 $0x31, Y12, Y11, p1

// COLOUR8 converts eight pixels (luma at yr, chroma cb and cr, which it clobbers) to RGB at
// out[0:24] (out12 is out[12:]), writing out[0:28], with the arithmetic of jpegColourTables. Scratch Y8..Y11.
#define COLOUR8(out, out12, yr, cb, cr) \
	VPMOVZXBD yr, Y8; VPSUBD K128, cb, cb; VPSUBD K128, cr, cr; \
	VPMULLD CRR, cr, Y9; VPADDD HALF16, Y9, Y9; VPSRAD $16, Y9, Y9; VPADDD Y8, Y9, Y9; \
	VPMULLD CRG, cr, Y10; VPMULLD CBG, cb, Y11; VPADDD Y11, Y10, Y10; \
	VPADDD HALF16, Y10, Y10; VPSRAD $16, Y10, Y10; VPADDD Y8, Y10, Y10; \
	VPMULLD CBB, cb, Y11; VPADDD HALF16, Y11, Y11; VPSRAD $16, Y11, Y11; VPADDD Y8, Y11, Y11; \
	VPMAXSD ZERO, Y9, Y9; VPMINSD MAX8, Y9, Y9; \
	VPMAXSD ZERO, Y10, Y10; VPMINSD MAX8, Y10, Y10; \
	VPMAXSD ZERO, Y11, Y11; VPMINSD MAX8, Y11, Y11; \
	VPSLLD $8, Y10, Y10; VPSLLD $16, Y11, Y11; VPOR Y10, Y9, Y9; VPOR Y11, Y9, Y9; \
	VPSHUFB RGBBYTES, Y9, Y9; \
	VMOVDQU X9, out; VEXTRACTI128 $1, Y9, out12

// func jpegDecodeAVX2(out, yr, cbN, cbF, crN, crF *uint8, n int, k *jpegAsmConsts)
TEXT ·jpegDecodeAVX2(SB), NOSPLIT, $0-64
	MOVQ out+0(FP), DI
	MOVQ yr+8(FP), SI
	MOVQ cbN+16(FP), R9
	MOVQ cbF+24(FP), R10
	MOVQ crN+32(FP), R11
	MOVQ crF+40(FP), R12
	MOVQ n+48(FP), BX
	MOVQ k+56(FP), CX
	TESTQ BX, BX
	JZ decodeDone

decodeLoop:
	UPSAMPLE(R9, R10, Y0, Y1)
	UPSAMPLE(R11, R12, Y2, Y3)
	COLOUR8((DI), 12(DI), (SI), Y0, Y2)
	COLOUR8(24(DI), 36(DI), 8(SI), Y1, Y3)
	ADDQ $48, DI
	ADDQ $16, SI
	ADDQ $8, R9
	ADDQ $8, R10
	ADDQ $8, R11
	ADDQ $8, R12
	DECQ BX
	JNZ decodeLoop

decodeDone:
	VZEROUPPER
	RET
