//go:build !purego

#include "textflag.h"

// tritShuf builds the four 3-grams at the even offsets 0, 2, 4 and 6 of
// bytes 0..8 of the low lane, which holds bytes 0..15 of the 16, and those
// at offsets 8, 10, 12 and 14 from bytes 7..15 of the high lane, which
// holds bytes 1..16 (so that no load reads past byte 16, the last one
// needed), as dwords whose top byte is zero.
DATA tritShuf<>+0x00(SB)/8, $0x8004030280020100
DATA tritShuf<>+0x08(SB)/8, $0x8008070680060504
DATA tritShuf<>+0x10(SB)/8, $0x800b0a0980090807
DATA tritShuf<>+0x18(SB)/8, $0x800f0e0d800d0c0b
GLOBL tritShuf<>(SB), RODATA|NOPTR, $32

DATA tritConst<>+0x00(SB)/4, $0x00202020
DATA tritConst<>+0x04(SB)/4, $0x9E3779B1
DATA tritConst<>+0x08(SB)/4, $31
GLOBL tritConst<>(SB), RODATA|NOPTR, $12

// func findMasksAVX2(b *byte, n int, bm *uint64, masks *uint64, hashes *uint32)
//
// findMasksAVX2 is literals.testMasks with AVX2: 16 bytes at a time, the
// 3-grams at their eight even offsets are built by one byte shuffle (the
// lanes hold bytes 0..15 and 1..16), hashed as triHash does by an OR, a
// multiplication and a shift, and their bits fetched from the bitmap by
// one gather; the eight results go into the mask word a byte at a time,
// the eight hashes to hashes.
TEXT ·findMasksAVX2(SB), NOSPLIT, $0-40
	MOVQ b+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ bm+16(FP), DI
	MOVQ masks+24(FP), R8
	MOVQ hashes+32(FP), R11
	VMOVDQU tritShuf<>(SB), Y8
	VPBROADCASTD tritConst<>+0x00(SB), Y9
	VPBROADCASTD tritConst<>+0x04(SB), Y10
	VPBROADCASTD tritConst<>+0x08(SB), Y11
	TESTQ CX, CX
	JEQ done

word:
	XORQ R9, R9
	MOVQ $8, R10

group:
	VMOVDQU (SI), X0
	VINSERTI128 $1, 1(SI), Y0, Y0
	VPSHUFB Y8, Y0, Y0
	VPOR Y9, Y0, Y0
	VPMULLD Y10, Y0, Y0
	VPSRLD $15, Y0, Y0
	VMOVDQU Y0, (R11)
	ADDQ $32, R11
	VPSRLD $5, Y0, Y1
	VPAND Y11, Y0, Y0
	VPCMPEQD Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPGATHERDD Y2, (DI)(Y1*4), Y3
	VPSRLVD Y0, Y3, Y3
	VPSLLD $31, Y3, Y3
	VMOVMSKPS Y3, AX
	SHRQ $8, R9
	SHLQ $56, AX
	ORQ AX, R9
	ADDQ $16, SI
	DECQ R10
	JNE group

	MOVQ R9, (R8)
	ADDQ $8, R8
	DECQ CX
	JNE word

done:
	VZEROUPPER
	RET
