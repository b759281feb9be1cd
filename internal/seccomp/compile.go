package seccomp

import (
	"fmt"
	"slices"
)

// Instruction is one classic BPF instruction with the layout of the
// kernel's struct sock_filter, so a program can be handed to seccomp(2)
// without copying.
type Instruction struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// Classic BPF opcodes, the few a filter of this shape needs.
const (
	opLdAbsW = 0x20 // BPF_LD | BPF_W | BPF_ABS: A = 32-bit word at offset K
	opAndK   = 0x54 // BPF_ALU | BPF_AND | BPF_K: A &= K
	opJa     = 0x05 // BPF_JMP | BPF_JA: pc += K
	opJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K: pc += (A == K) ? Jt : Jf
	opJgeK   = 0x35 // BPF_JMP | BPF_JGE | BPF_K: pc += (A >= K) ? Jt : Jf
	opRetK   = 0x06 // BPF_RET | BPF_K: return K

	// maxInstructions is BPF_MAXINSNS, the kernel's limit per program.
	maxInstructions = 4096
	// leafSize is the number of syscalls a leaf of the binary search tests
	// one after another.
	leafSize = 4
)

// Offsets into struct seccomp_data. Both supported architectures are
// little-endian, so an argument's low word comes first.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// resolved is a rule bound to its syscall number on one architecture.
type resolved struct {
	nr uint32
	rule
}

// resolve binds p's rules to a's numbers, skipping names a does not have,
// sorted by number. A name given twice is a bug in the profile.
func resolve(p *profile, a *arch) ([]resolved, error) {
	rs := make([]resolved, 0, len(p.rules))
	seen := make(map[string]bool, len(p.rules))
	for _, r := range p.rules {
		if seen[r.name] {
			return nil, fmt.Errorf("compile %s profile: syscall %s has two rules", p.name, r.name)
		}
		seen[r.name] = true
		if nr, ok := a.table[r.name]; ok {
			rs = append(rs, resolved{nr: nr, rule: r})
		}
	}
	slices.SortFunc(rs, func(x, y resolved) int { return int(x.nr) - int(y.nr) })
	return rs, nil
}

// assembler collects instructions and resolves forward jumps to labels.
// Conditional jumps only ever skip an instruction or a small clause, so
// their 8-bit offsets always fit; every long jump is a JA with a 32-bit K.
type assembler struct {
	prog   []Instruction
	labels []int       // label -> instruction index, -1 until placed
	fixups map[int]int // JA instruction index -> label
}

func (as *assembler) emit(code uint16, jt, jf uint8, k uint32) {
	as.prog = append(as.prog, Instruction{Code: code, Jt: jt, Jf: jf, K: k})
}

func (as *assembler) newLabel() int {
	as.labels = append(as.labels, -1)
	return len(as.labels) - 1
}

func (as *assembler) place(l int) { as.labels[l] = len(as.prog) }

func (as *assembler) jump(l int) {
	as.fixups[len(as.prog)] = l
	as.emit(opJa, 0, 0, 0)
}

func (as *assembler) ret(a Action) { as.emit(opRetK, 0, 0, uint32(a)) }

// compile turns p into a seccomp program for a. The shape:
//
//	A = arch;  if A != native: KILL_PROCESS           (foreign ABIs, int 0x80)
//	A = nr;    if A >= 1<<30 && A != -1: KILL_PROCESS (amd64 only: the x32
//	           ABI sets bit 30, and no native syscall is that high)
//	binary search over the sorted rule numbers; a leaf compares up to
//	leafSize numbers and returns the rule's action, or jumps to the rule's
//	argument block; no match returns the default
//	argument blocks: per clause, load each argument's low word, mask,
//	compare; all equal returns the clause's action; else the rule's action
//
// It returns the program and the number of syscall rules in it.
func compile(p *profile, a *arch) ([]Instruction, int, error) {
	rs, err := resolve(p, a)
	if err != nil {
		return nil, 0, err
	}
	as := &assembler{fixups: make(map[int]int)}

	as.emit(opLdAbsW, 0, 0, offArch)
	as.emit(opJeqK, 1, 0, a.audit)
	as.ret(actionKillProcess)
	as.emit(opLdAbsW, 0, 0, offNr)
	if a.x32 {
		// Syscall number -1 is what a tracer leaves when it skips a
		// syscall; it is not an x32 call and must reach the default.
		as.emit(opJgeK, 0, 2, x32SyscallBit)
		as.emit(opJeqK, 1, 0, 0xffffffff)
		as.ret(actionKillProcess)
	}

	blocks := make(map[int]int) // index in rs -> label of its argument block
	var tree func(lo, hi int)
	tree = func(lo, hi int) {
		if hi-lo <= leafSize {
			for i := lo; i < hi; i++ {
				as.emit(opJeqK, 0, 1, rs[i].nr)
				if len(rs[i].clauses) == 0 {
					as.ret(rs[i].action)
					continue
				}
				l := as.newLabel()
				blocks[i] = l
				as.jump(l)
			}
			as.ret(p.def)
			return
		}
		mid := lo + (hi-lo)/2
		right := as.newLabel()
		as.emit(opJgeK, 0, 1, rs[mid].nr)
		as.jump(right)
		tree(lo, mid)
		as.place(right)
		tree(mid, hi)
	}
	tree(0, len(rs))

	for i, r := range rs {
		l, ok := blocks[i]
		if !ok {
			continue
		}
		as.place(l)
		for _, c := range r.clauses {
			for j, cd := range c.conds {
				as.emit(opLdAbsW, 0, 0, offArgs+8*uint32(cd.arg))
				if cd.mask != 0xffffffff {
					as.emit(opAndK, 0, 0, cd.mask)
				}
				// On a mismatch skip the rest of this clause: the later
				// conditions and the clause's return.
				rest := 1
				for _, later := range c.conds[j+1:] {
					rest += condSize(later)
				}
				if rest > 255 {
					return nil, 0, fmt.Errorf("compile %s profile: clause of %s too long", p.name, r.name)
				}
				as.emit(opJeqK, 0, uint8(rest), cd.value)
			}
			as.ret(c.action)
		}
		as.ret(r.action)
	}

	for at, l := range as.fixups {
		to := as.labels[l]
		if to <= at {
			return nil, 0, fmt.Errorf("compile %s profile: unplaced or backward label", p.name)
		}
		as.prog[at].K = uint32(to - at - 1)
	}
	if len(as.prog) > maxInstructions {
		return nil, 0, fmt.Errorf("compile %s profile: %d instructions, the kernel takes %d", p.name, len(as.prog), maxInstructions)
	}
	return as.prog, len(rs), nil
}

func condSize(c cond) int {
	if c.mask != 0xffffffff {
		return 3
	}
	return 2
}
