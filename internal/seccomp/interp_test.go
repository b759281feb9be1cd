package seccomp

import (
	"encoding/binary"
	"fmt"
)

// seccompData is struct seccomp_data: what a filter sees of a syscall.
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

// bytes lays d out as the kernel does on a little-endian machine.
func (d seccompData) bytes() [64]byte {
	var b [64]byte
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// interpret runs a classic BPF program on d as the kernel's seccomp
// checker and interpreter would, and fails on anything the kernel would
// reject: an unknown opcode, a load outside seccomp_data or unaligned, a
// jump out of the program, falling off the end.
func interpret(prog []Instruction, d seccompData) (seccompAction, error) {
	if len(prog) == 0 || len(prog) > maxInstructions {
		return 0, fmt.Errorf("program length %d", len(prog))
	}
	data := d.bytes()
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		jump := func(cond bool) error {
			off := int(in.Jf)
			if cond {
				off = int(in.Jt)
			}
			if pc+1+off >= len(prog) {
				return fmt.Errorf("pc %d: jump to %d past the end", pc, pc+1+off)
			}
			pc += off
			return nil
		}
		var err error
		switch in.Code {
		case opLdAbsW:
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				return 0, fmt.Errorf("pc %d: load at offset %d", pc, in.K)
			}
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case opAndK:
			acc &= in.K
		case opJa:
			if pc+1+int(in.K) >= len(prog) {
				return 0, fmt.Errorf("pc %d: ja past the end", pc)
			}
			pc += int(in.K)
		case opJeqK:
			err = jump(acc == in.K)
		case opJgeK:
			err = jump(acc >= in.K)
		case opRetK:
			return seccompAction(in.K), nil
		default:
			return 0, fmt.Errorf("pc %d: opcode 0x%x not understood", pc, in.Code)
		}
		if err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("fell off the end of the program")
}

// verdict is the declarative meaning of p on a: what the compiled program
// must return. It is written independently of compile, for the
// differential tests.
func (p *profile) verdict(a *arch, d seccompData) seccompAction {
	if d.arch != a.audit {
		return actionKillProcess
	}
	if a.x32 && d.nr >= x32SyscallBit && d.nr != 0xffffffff {
		return actionKillProcess
	}
	for _, r := range p.rules {
		nr, ok := a.table()[r.name]
		if !ok || nr != d.nr {
			continue
		}
	clauses:
		for _, c := range r.clauses {
			for _, cd := range c.conds {
				if uint32(d.args[cd.arg])&cd.mask != cd.value {
					continue clauses
				}
			}
			return c.action
		}
		return r.action
	}
	return p.def
}
