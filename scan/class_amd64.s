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

#define SPLAT(c, X) \
	MOVQ c, AX \
	MOVQ AX, X \
	PUNPCKLQDQ X, X

// CLASSIFY16 fills the 16 bits at byte offset wo of each classWords field
// from the 16 bytes at off(SI), in the order of the fields: digit, colon,
// dash or dot, upper, letter, hex letter, token. X0 holds the bytes, X1
// the bytes with bit 0x20 set (letters in lower case), X4 gathers the
// token bytes. Registers: X5 '0'-1 and '.'+1 and '/', X6
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
	MOVW AX, (6*8+wo)(DI)

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
	ADDQ $56, DI
	DECQ CX
	JNE loop

done:
	RET
