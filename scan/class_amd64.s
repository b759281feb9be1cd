//go:build !purego

#include "textflag.h"

// The byte classes of 64 bytes at a time with SSE2, which every amd64 CPU
// has: a range of bytes is two signed compares (bytes from 0x80 are
// negative and so below every range), and PMOVMSKB gathers the sixteen
// results of a register into sixteen bits of a classWords field.

DATA classPlus<>+0x00(SB)/8, $0x2b2b2b2b2b2b2b2b
DATA classPlus<>+0x08(SB)/8, $0x2b2b2b2b2b2b2b2b
GLOBL classPlus<>(SB), RODATA|NOPTR, $16

DATA classEqual<>+0x00(SB)/8, $0x3d3d3d3d3d3d3d3d
DATA classEqual<>+0x08(SB)/8, $0x3d3d3d3d3d3d3d3d
GLOBL classEqual<>(SB), RODATA|NOPTR, $16

// classRare holds 32 copies of each of the rare bytes (rareBytes).
DATA classRare<>+0x00(SB)/8, $0x2424242424242424
DATA classRare<>+0x08(SB)/8, $0x2424242424242424
DATA classRare<>+0x10(SB)/8, $0x2424242424242424
DATA classRare<>+0x18(SB)/8, $0x2424242424242424
DATA classRare<>+0x20(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA classRare<>+0x28(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA classRare<>+0x30(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA classRare<>+0x38(SB)/8, $0x5c5c5c5c5c5c5c5c
DATA classRare<>+0x40(SB)/8, $0x7e7e7e7e7e7e7e7e
DATA classRare<>+0x48(SB)/8, $0x7e7e7e7e7e7e7e7e
DATA classRare<>+0x50(SB)/8, $0x7e7e7e7e7e7e7e7e
DATA classRare<>+0x58(SB)/8, $0x7e7e7e7e7e7e7e7e
DATA classRare<>+0x60(SB)/8, $0x6060606060606060
DATA classRare<>+0x68(SB)/8, $0x6060606060606060
DATA classRare<>+0x70(SB)/8, $0x6060606060606060
DATA classRare<>+0x78(SB)/8, $0x6060606060606060
GLOBL classRare<>(SB), RODATA|NOPTR, $128

#define SPLAT(c, X) \
	MOVQ c, AX \
	MOVQ AX, X \
	PUNPCKLQDQ X, X

// CLASSIFY16 fills the 16 bits at byte offset wo of each classWords field
// from the 16 bytes at off(SI), in the order of the fields: digit, colon,
// dash or dot, upper, letter, hex letter, token, rare. X0 holds the
// bytes, X1 the bytes with bit 0x20 set (letters in lower case), X4
// gathers the token bytes, then the rare ones. Registers: X5 '0'-1 and '.'+1 and '/', X6
// '9'+1 and ':', X7 '-'-1, X8 'A'-1, X9 'Z'+1, X10 0x20, X11 'a'-1, X12
// 'z'+1, X13 'f'+1, X14 '-', X15 '_'.
#define CLASSIFY16(off, wo) \
	MOVOU off(SI), X0 \
	MOVO X0, X1 \
	POR X10, X1 \
	MOVO X0, X2 \
	PCMPGTB X5, X2 \
	MOVO X6, X3 \
	PCMPGTB X0, X3 \
	PAND X3, X2 \
	PMOVMSKB X2, AX \
	MOVW AX, (0*8+wo)(DI) \
	MOVO X2, X4 \
	MOVO X0, X2 \
	PCMPEQB X6, X2 \
	PMOVMSKB X2, AX \
	MOVW AX, (1*8+wo)(DI) \
	MOVO X0, X2 \
	PCMPGTB X7, X2 \
	MOVO X5, X3 \
	PCMPGTB X0, X3 \
	PAND X3, X2 \
	PMOVMSKB X2, AX \
	MOVW AX, (2*8+wo)(DI) \
	MOVO X0, X2 \
	PCMPGTB X8, X2 \
	MOVO X9, X3 \
	PCMPGTB X0, X3 \
	PAND X3, X2 \
	PMOVMSKB X2, AX \
	MOVW AX, (3*8+wo)(DI) \
	MOVO X1, X2 \
	PCMPGTB X11, X2 \
	MOVO X12, X3 \
	PCMPGTB X1, X3 \
	PAND X2, X3 \
	POR X3, X4 \
	PMOVMSKB X3, AX \
	MOVW AX, (4*8+wo)(DI) \
	MOVO X13, X3 \
	PCMPGTB X1, X3 \
	PAND X2, X3 \
	PMOVMSKB X3, AX \
	MOVW AX, (5*8+wo)(DI) \
	MOVO X0, X2 \
	PCMPEQB X5, X2 \
	POR X2, X4 \
	MOVO X0, X2 \
	PCMPEQB X14, X2 \
	POR X2, X4 \
	MOVO X0, X2 \
	PCMPEQB X15, X2 \
	POR X2, X4 \
	MOVOU classPlus<>(SB), X2 \
	PCMPEQB X0, X2 \
	POR X2, X4 \
	MOVOU classEqual<>(SB), X2 \
	PCMPEQB X0, X2 \
	POR X2, X4 \
	PMOVMSKB X4, AX \
	MOVW AX, (6*8+wo)(DI) \
	MOVOU classRare<>+0x00(SB), X4 \
	PCMPEQB X0, X4 \
	MOVOU classRare<>+0x20(SB), X2 \
	PCMPEQB X0, X2 \
	POR X2, X4 \
	MOVOU classRare<>+0x40(SB), X2 \
	PCMPEQB X0, X2 \
	POR X2, X4 \
	MOVOU classRare<>+0x60(SB), X2 \
	PCMPEQB X0, X2 \
	POR X2, X4 \
	PMOVMSKB X4, AX \
	MOVW AX, (7*8+wo)(DI)

// func classifyBlocks(b *byte, n int, out *classWords)
TEXT ·classifyBlocks(SB), NOSPLIT, $0-24
	MOVQ b+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ out+16(FP), DI
	SPLAT($0x2f2f2f2f2f2f2f2f, X5)
	SPLAT($0x3a3a3a3a3a3a3a3a, X6)
	SPLAT($0x2c2c2c2c2c2c2c2c, X7)
	SPLAT($0x4040404040404040, X8)
	SPLAT($0x5b5b5b5b5b5b5b5b, X9)
	SPLAT($0x2020202020202020, X10)
	SPLAT($0x6060606060606060, X11)
	SPLAT($0x7b7b7b7b7b7b7b7b, X12)
	SPLAT($0x6767676767676767, X13)
	SPLAT($0x2d2d2d2d2d2d2d2d, X14)
	SPLAT($0x5f5f5f5f5f5f5f5f, X15)
	TESTQ CX, CX
	JEQ done

loop:
	CLASSIFY16(0, 0)
	CLASSIFY16(16, 2)
	CLASSIFY16(32, 4)
	CLASSIFY16(48, 6)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE loop

done:
	RET

// The same with AVX2, 32 bytes at a time: each compare covers twice the
// bytes, and the three-operand forms need no copies.

DATA classPlus32<>+0x00(SB)/8, $0x2b2b2b2b2b2b2b2b
DATA classPlus32<>+0x08(SB)/8, $0x2b2b2b2b2b2b2b2b
DATA classPlus32<>+0x10(SB)/8, $0x2b2b2b2b2b2b2b2b
DATA classPlus32<>+0x18(SB)/8, $0x2b2b2b2b2b2b2b2b
GLOBL classPlus32<>(SB), RODATA|NOPTR, $32

DATA classEqual32<>+0x00(SB)/8, $0x3d3d3d3d3d3d3d3d
DATA classEqual32<>+0x08(SB)/8, $0x3d3d3d3d3d3d3d3d
DATA classEqual32<>+0x10(SB)/8, $0x3d3d3d3d3d3d3d3d
DATA classEqual32<>+0x18(SB)/8, $0x3d3d3d3d3d3d3d3d
GLOBL classEqual32<>(SB), RODATA|NOPTR, $32

DATA classBytes<>+0x00(SB)/8, $0x5b40677b602c2f3a // ':' '/' ',' '`' '{' 'g' '@' '['
DATA classBytes<>+0x08(SB)/8, $0x0000000000205f2d // '-' '_' 0x20
GLOBL classBytes<>(SB), RODATA|NOPTR, $16

// CLASSIFY32 is CLASSIFY16 for the 32 bytes at off(SI), filling the 32
// bits at byte offset wo of each field. Registers as in CLASSIFY16, but
// Y for X.
#define CLASSIFY32(off, wo) \
	VMOVDQU off(SI), Y0 \
	VPOR Y10, Y0, Y1 \
	VPCMPGTB Y5, Y0, Y2 \
	VPCMPGTB Y0, Y6, Y3 \
	VPAND Y3, Y2, Y2 \
	VPMOVMSKB Y2, AX \
	MOVL AX, (0*8+wo)(DI) \
	VMOVDQU Y2, Y4 \
	VPCMPEQB Y6, Y0, Y2 \
	VPMOVMSKB Y2, AX \
	MOVL AX, (1*8+wo)(DI) \
	VPCMPGTB Y7, Y0, Y2 \
	VPCMPGTB Y0, Y5, Y3 \
	VPAND Y3, Y2, Y2 \
	VPMOVMSKB Y2, AX \
	MOVL AX, (2*8+wo)(DI) \
	VPCMPGTB Y8, Y0, Y2 \
	VPCMPGTB Y0, Y9, Y3 \
	VPAND Y3, Y2, Y2 \
	VPMOVMSKB Y2, AX \
	MOVL AX, (3*8+wo)(DI) \
	VPCMPGTB Y11, Y1, Y2 \
	VPCMPGTB Y1, Y12, Y3 \
	VPAND Y2, Y3, Y3 \
	VPOR Y3, Y4, Y4 \
	VPMOVMSKB Y3, AX \
	MOVL AX, (4*8+wo)(DI) \
	VPCMPGTB Y1, Y13, Y3 \
	VPAND Y2, Y3, Y3 \
	VPMOVMSKB Y3, AX \
	MOVL AX, (5*8+wo)(DI) \
	VPCMPEQB Y5, Y0, Y2 \
	VPOR Y2, Y4, Y4 \
	VPCMPEQB Y14, Y0, Y2 \
	VPOR Y2, Y4, Y4 \
	VPCMPEQB Y15, Y0, Y2 \
	VPOR Y2, Y4, Y4 \
	VPCMPEQB classPlus32<>(SB), Y0, Y2 \
	VPOR Y2, Y4, Y4 \
	VPCMPEQB classEqual32<>(SB), Y0, Y2 \
	VPOR Y2, Y4, Y4 \
	VPMOVMSKB Y4, AX \
	MOVL AX, (6*8+wo)(DI) \
	VPCMPEQB classRare<>+0x00(SB), Y0, Y2 \
	VPCMPEQB classRare<>+0x20(SB), Y0, Y3 \
	VPOR Y3, Y2, Y2 \
	VPCMPEQB classRare<>+0x40(SB), Y0, Y3 \
	VPOR Y3, Y2, Y2 \
	VPCMPEQB classRare<>+0x60(SB), Y0, Y3 \
	VPOR Y3, Y2, Y2 \
	VPMOVMSKB Y2, AX \
	MOVL AX, (7*8+wo)(DI)

// func classifyBlocksAVX2(b *byte, n int, out *classWords)
TEXT ·classifyBlocksAVX2(SB), NOSPLIT, $0-24
	MOVQ b+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ out+16(FP), DI
	VPBROADCASTB classBytes<>+1(SB), Y5
	VPBROADCASTB classBytes<>+0(SB), Y6
	VPBROADCASTB classBytes<>+2(SB), Y7
	VPBROADCASTB classBytes<>+6(SB), Y8
	VPBROADCASTB classBytes<>+7(SB), Y9
	VPBROADCASTB classBytes<>+10(SB), Y10
	VPBROADCASTB classBytes<>+3(SB), Y11
	VPBROADCASTB classBytes<>+4(SB), Y12
	VPBROADCASTB classBytes<>+5(SB), Y13
	VPBROADCASTB classBytes<>+8(SB), Y14
	VPBROADCASTB classBytes<>+9(SB), Y15
	TESTQ CX, CX
	JEQ avxdone

avxloop:
	CLASSIFY32(0, 0)
	CLASSIFY32(32, 4)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE avxloop

avxdone:
	VZEROUPPER
	RET
