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
	table := a.table()
	for _, r := range p.rules {
		if seen[r.name] {
			return nil, fmt.Errorf("compile %s profile: syscall %s has two rules", p.name, r.name)
		}
		seen[r.name] = true
		if nr, ok := table[r.name]; ok {
			rs = append(rs, resolved{nr: nr, rule: r})
		}
	}
	slices.SortFunc(rs, func(x, y resolved) int { return int(x.nr) - int(y.nr) })
	return rs, nil
}

// chunk is a piece of program whose JA instructions at the fixup indexes
// still need the position of a label (an argument block) to get their K.
type chunk struct {
	code []Instruction
	fix  []fixup
}

type fixup struct{ at, label int }

func (c *chunk) emit(code uint16, jt, jf uint8, k uint32) {
	c.code = append(c.code, Instruction{Code: code, Jt: jt, Jf: jf, K: k})
}

func (c *chunk) ret(a seccompAction) { c.emit(opRetK, 0, 0, uint32(a)) }

func (c *chunk) jump(label int) {
	c.fix = append(c.fix, fixup{len(c.code), label})
	c.emit(opJa, 0, 0, 0)
}

func (c *chunk) append(o chunk) {
	for _, f := range o.fix {
		c.fix = append(c.fix, fixup{f.at + len(c.code), f.label})
	}
	c.code = append(c.code, o.code...)
}

// interval is a run of syscall numbers, from lo up to the next interval's
// lo, that all get the same action, or (label >= 0) that is one syscall
// whose argument block is label.
type interval struct {
	lo     uint32
	action seccompAction
	label  int
}

// intervals partitions the syscall numbers into runs: the rules' numbers,
// merged where neighbours share a plain action, and the default between.
func intervals(rs []resolved, def seccompAction) []interval {
	iv := []interval{{lo: 0, action: def, label: -1}}
	add := func(lo uint32, a seccompAction, label int) {
		last := &iv[len(iv)-1]
		if label < 0 && last.label < 0 && last.action == a {
			return // Extends the previous run.
		}
		if last.lo == lo {
			*last = interval{lo, a, label}
			// Merging may now be possible with the one before.
			if n := len(iv); n > 1 && label < 0 && iv[n-2].label < 0 && iv[n-2].action == a {
				iv = iv[:n-1]
			}
			return
		}
		iv = append(iv, interval{lo, a, label})
	}
	for i, r := range rs {
		label := -1
		if len(r.clauses) > 0 {
			label = i
		}
		add(r.nr, r.action, label)
		if i+1 == len(rs) || rs[i+1].nr != r.nr+1 {
			add(r.nr+1, def, -1)
		}
	}
	return iv
}

// search emits a binary search over iv, entered with the syscall number
// in A: each inner node is one JGE that skips the left half (or a JGE and
// a JA when the left half is longer than a jump offset), each leaf one
// instruction.
func search(iv []interval) chunk {
	var c chunk
	if len(iv) == 1 {
		if iv[0].label >= 0 {
			c.jump(iv[0].label)
		} else {
			c.ret(iv[0].action)
		}
		return c
	}
	mid := len(iv) / 2
	left, right := search(iv[:mid]), search(iv[mid:])
	if len(left.code) <= 255 {
		c.emit(opJgeK, uint8(len(left.code)), 0, iv[mid].lo)
	} else {
		c.emit(opJgeK, 0, 1, iv[mid].lo)
		c.emit(opJa, 0, 0, uint32(len(left.code)))
	}
	c.append(left)
	c.append(right)
	return c
}

// compile turns p into a seccomp program for a. The shape:
//
//	A = arch;  if A != native: KILL_PROCESS           (foreign ABIs, int 0x80)
//	A = nr;    if A >= 1<<30 && A != -1: KILL_PROCESS (amd64 only: the x32
//	           ABI sets bit 30, and no native syscall is that high)
//	binary search over runs of syscall numbers with one action each (the
//	rules merged where neighbours agree, the default between them); a leaf
//	returns its action or jumps to a rule's argument block
//	argument blocks: per clause, load each argument's low word, mask,
//	compare; all equal returns the clause's action; else the rule's action
//
// Merging runs keeps strict's ~330 rules to ~90 leaves, which matters
// because the kernel's cost to install a filter grows with its length.
// It returns the program and the number of syscall rules in it.
func compile(p *profile, a *arch) ([]Instruction, int, error) {
	rs, err := resolve(p, a)
	if err != nil {
		return nil, 0, err
	}
	var c chunk
	c.emit(opLdAbsW, 0, 0, offArch)
	c.emit(opJeqK, 1, 0, a.audit)
	c.ret(actionKillProcess)
	c.emit(opLdAbsW, 0, 0, offNr)
	if a.x32 {
		// Syscall number -1 is what a tracer leaves when it skips a
		// syscall; it is not an x32 call and must reach the default.
		c.emit(opJgeK, 0, 2, x32SyscallBit)
		c.emit(opJeqK, 1, 0, 0xffffffff)
		c.ret(actionKillProcess)
	}
	c.append(search(intervals(rs, p.def)))

	labels := make(map[int]int) // index in rs -> start of its argument block
	for i, r := range rs {
		if len(r.clauses) == 0 {
			continue
		}
		labels[i] = len(c.code)
		for _, cl := range r.clauses {
			for j, cd := range cl.conds {
				c.emit(opLdAbsW, 0, 0, offArgs+8*uint32(cd.arg))
				if cd.mask != 0xffffffff {
					c.emit(opAndK, 0, 0, cd.mask)
				}
				// On a mismatch skip the rest of this clause: the later
				// conditions and the clause's return.
				rest := 1
				for _, later := range cl.conds[j+1:] {
					rest += condSize(later)
				}
				if rest > 255 {
					return nil, 0, fmt.Errorf("compile %s profile: clause of %s too long", p.name, r.name)
				}
				c.emit(opJeqK, 0, uint8(rest), cd.value)
			}
			c.ret(cl.action)
		}
		c.ret(r.action)
	}

	for _, f := range c.fix {
		to, ok := labels[f.label]
		if !ok || to <= f.at {
			return nil, 0, fmt.Errorf("compile %s profile: jump to a missing or earlier block", p.name)
		}
		c.code[f.at].K = uint32(to - f.at - 1)
	}
	if len(c.code) > maxInstructions {
		return nil, 0, fmt.Errorf("compile %s profile: %d instructions, the kernel takes %d", p.name, len(c.code), maxInstructions)
	}
	return c.code, len(rs), nil
}

func condSize(c cond) int {
	if c.mask != 0xffffffff {
		return 3
	}
	return 2
}
