//go:build amd64 && !purego

#include "textflag.h"

// AVX kernels of filter.go's element-wise loops, eight float32 lanes at a time. Each lane does
// exactly the scalar loop's operations in its order (multiplies and adds, never fused), so the
// results are identical bit for bit: IEEE single-precision addition and multiplication are
// correctly rounded and commutative. The Go wrappers do the last len%8 elements.

// func add4AVX(d, a, b, c, e *float32, n int, wa, wb, wc, we float32)
// d += ((wa*a + wb*b) + wc*c) + we*e for the first n elements (n a multiple of 8).
TEXT ·add4AVX(SB), NOSPLIT, $0-64
	MOVQ d+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ c+24(FP), R9
	MOVQ e+32(FP), R10
	MOVQ n+40(FP), CX
	VBROADCASTSS wa+48(FP), Y4
	VBROADCASTSS wb+52(FP), Y5
	VBROADCASTSS wc+56(FP), Y6
	VBROADCASTSS we+60(FP), Y7
	XORQ AX, AX

add4Loop:
	CMPQ AX, CX
	JGE add4Done
	VMULPS (SI)(AX*4), Y4, Y0
	VMULPS (R8)(AX*4), Y5, Y1
	VADDPS Y1, Y0, Y0
	VMULPS (R9)(AX*4), Y6, Y1
	VADDPS Y1, Y0, Y0
	VMULPS (R10)(AX*4), Y7, Y1
	VADDPS Y1, Y0, Y0
	VADDPS (DI)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP add4Loop

add4Done:
	VZEROUPPER
	RET

// func symSetAVX(d, c, a1, b1, a2, b2 *float32, n int, w0, w1, w2 float32)
// d = (w0*c + w1*(a1+b1)) + w2*(a2+b2) for the first n elements (n a multiple of 8).
TEXT ·symSetAVX(SB), NOSPLIT, $0-68
	MOVQ d+0(FP), DI
	MOVQ c+8(FP), SI
	MOVQ a1+16(FP), R8
	MOVQ b1+24(FP), R9
	MOVQ a2+32(FP), R10
	MOVQ b2+40(FP), R11
	MOVQ n+48(FP), CX
	VBROADCASTSS w0+56(FP), Y4
	VBROADCASTSS w1+60(FP), Y5
	VBROADCASTSS w2+64(FP), Y6
	XORQ AX, AX

symSetLoop:
	CMPQ AX, CX
	JGE symSetDone
	VMULPS (SI)(AX*4), Y4, Y0
	VMOVUPS (R8)(AX*4), Y1
	VADDPS (R9)(AX*4), Y1, Y1
	VMULPS Y1, Y5, Y1
	VADDPS Y1, Y0, Y0
	VMOVUPS (R10)(AX*4), Y2
	VADDPS (R11)(AX*4), Y2, Y2
	VMULPS Y2, Y6, Y2
	VADDPS Y2, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP symSetLoop

symSetDone:
	VZEROUPPER
	RET

// func symAddAVX(d, a1, b1, a2, b2 *float32, n int, w1, w2 float32)
// d += w1*(a1+b1) + w2*(a2+b2) for the first n elements (n a multiple of 8).
TEXT ·symAddAVX(SB), NOSPLIT, $0-56
	MOVQ d+0(FP), DI
	MOVQ a1+8(FP), R8
	MOVQ b1+16(FP), R9
	MOVQ a2+24(FP), R10
	MOVQ b2+32(FP), R11
	MOVQ n+40(FP), CX
	VBROADCASTSS w1+48(FP), Y5
	VBROADCASTSS w2+52(FP), Y6
	XORQ AX, AX

symAddLoop:
	CMPQ AX, CX
	JGE symAddDone
	VMOVUPS (R8)(AX*4), Y1
	VADDPS (R9)(AX*4), Y1, Y1
	VMULPS Y1, Y5, Y1
	VMOVUPS (R10)(AX*4), Y2
	VADDPS (R11)(AX*4), Y2, Y2
	VMULPS Y2, Y6, Y2
	VADDPS Y2, Y1, Y1
	VADDPS (DI)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	JMP symAddLoop

symAddDone:
	VZEROUPPER
	RET

// func boxYAVX(out, sum, lo, hi, first *float32, n int, alpha, inv float32)
// out = (sum + alpha*(lo+hi)) * inv, then sum += hi - first, for the first n elements (n a
// multiple of 8).
TEXT ·boxYAVX(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ sum+8(FP), SI
	MOVQ lo+16(FP), R8
	MOVQ hi+24(FP), R9
	MOVQ first+32(FP), R10
	MOVQ n+40(FP), CX
	VBROADCASTSS alpha+48(FP), Y5
	VBROADCASTSS inv+52(FP), Y6
	XORQ AX, AX

boxYLoop:
	CMPQ AX, CX
	JGE boxYDone
	VMOVUPS (R8)(AX*4), Y1
	VMOVUPS (R9)(AX*4), Y2
	VADDPS Y2, Y1, Y1
	VMULPS Y1, Y5, Y1
	VMOVUPS (SI)(AX*4), Y0
	VADDPS Y1, Y0, Y1
	VMULPS Y6, Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	VSUBPS (R10)(AX*4), Y2, Y2
	VADDPS Y2, Y0, Y0
	VMOVUPS Y0, (SI)(AX*4)
	ADDQ $8, AX
	JMP boxYLoop

boxYDone:
	VZEROUPPER
	RET
