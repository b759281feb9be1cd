//go:build !purego

#include "textflag.h"

// TRIGRAM tests the 3-gram in the low three bytes of AX, at offset off of
// the block, against the bitmap at DI, and appends off+R10 and the hash to
// the candidates at R8 whatever the result, advancing the count R9 only
// when the bit is set (the store leaves the flags of BT alone). The hash
// is triHash's: the bytes are ORed with 0x20 by the caller.
#define TRIGRAM(off) \
	ANDL $0xffffff, AX \
	IMUL3L $-1640531535, AX, AX \
	SHRL $15, AX \
	LEAQ off(R10), DX \
	SHLQ $17, DX \
	ORQ AX, DX \
	MOVL AX, BX \
	SHRL $6, BX \
	MOVQ (DI)(BX*8), BX \
	BTQ AX, BX \
	MOVQ DX, (R8)(R9*8) \
	ADCQ $0, R9

// func findBlocks(b *byte, n int, bm *uint64, cand *uint64, at int) int
//
// findBlocks is the loop of literals.find over n blocks of eight bytes,
// each read with the two bytes after it (see testBlocksGeneric).
TEXT ·findBlocks(SB), NOSPLIT, $0-48
	MOVQ b+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ bm+16(FP), DI
	MOVQ cand+24(FP), R8
	MOVQ at+32(FP), R10
	XORQ R9, R9
	MOVQ $0x2020202020202020, R11
	TESTQ CX, CX
	JEQ done

loop:
	MOVQ (SI), R12
	ORQ R11, R12
	MOVL 6(SI), R13
	ORL $0x20202020, R13
	MOVQ R12, AX
	TRIGRAM(0)
	MOVQ R12, AX
	SHRQ $16, AX
	TRIGRAM(2)
	MOVQ R12, AX
	SHRQ $32, AX
	TRIGRAM(4)
	MOVL R13, AX
	TRIGRAM(6)
	ADDQ $8, SI
	ADDQ $8, R10
	DECQ CX
	JNE loop

done:
	MOVQ R9, ret+40(FP)
	RET
