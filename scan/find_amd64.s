//go:build !purego

#include "textflag.h"

// TRIGRAM tests the 3-gram in the low three bytes of AX against the
// bitmap at DI, and shifts the result into DX (DX = 2*DX + bit). The hash
// is triHash's: the bytes are ORed with 0x20 by the caller.
#define TRIGRAM \
	ANDL $0xffffff, AX \
	IMUL3L $-1640531535, AX, AX \
	SHRL $15, AX \
	MOVL AX, BX \
	SHRL $6, BX \
	MOVQ (DI)(BX*8), BX \
	BTQ AX, BX \
	ADCQ DX, DX

// func findBlocks(b *byte, n int, bm *uint64, cand *uint64, at int) int
//
// findBlocks is the loop of literals.find over n blocks of eight bytes,
// each read with the two bytes after it: it writes at<<4 | m for each
// block with one of its four 3-gram bits m set to cand (every block is
// written, the count advances only past those), and returns the count.
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
	XORL DX, DX
	MOVL R13, AX
	TRIGRAM
	MOVQ R12, AX
	SHRQ $32, AX
	TRIGRAM
	MOVQ R12, AX
	SHRQ $16, AX
	TRIGRAM
	MOVQ R12, AX
	TRIGRAM
	MOVQ R10, AX
	SHLQ $4, AX
	ORQ DX, AX
	MOVQ AX, (R8)(R9*8)
	ADDQ $15, DX
	SHRQ $4, DX
	ADDQ DX, R9
	ADDQ $8, SI
	ADDQ $8, R10
	DECQ CX
	JNE loop

done:
	MOVQ R9, ret+40(FP)
	RET
