/*
 * Bare-metal test kernel: PVH entry, switch to long mode, run main()
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QEMU's -kernel loads an ELF with a XEN_ELFNOTE_PHYS32_ENTRY note and
 * enters it in 32-bit protected mode, paging off, %ebx = start_info.
 * The first 4 GiB are identity mapped with 2 MiB pages.
 *
 * The other CPUs (APs) start in ap_tramp, which smp_start() (lib.c)
 * copies below 1 MiB: real mode, then ap_entry32 and ap_long, where each
 * takes a CPU number and a stack and calls ap_main().
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define SMP_MAX_CPUS    16          /* as lib.h */
#define AP_STACK_SIZE   16384

    .section .note.pvh, "a"
    .align 4
    .long 4                     /* name size */
    .long 8                     /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .quad pvh_entry

    .section .text.entry, "ax"
    .code32
    .globl pvh_entry
pvh_entry:
    cli
    cld
    mov %ebx, start_info_paddr
    lgdt gdt_desc
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $stack_top, %esp

    /* PML4[0] -> PDPT, PDPT[0..3] -> PD[0..3], PD entries 2 MiB pages */
    mov $pdpt, %eax
    or $0x7, %eax
    mov %eax, pml4
    mov $0, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $pd, %eax
    or $0x7, %eax
    mov %eax, pdpt(,%ecx,8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    mov $0, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x87, %eax              /* present, writable, user, 2 MiB */
    mov %eax, pd(,%ecx,8)
    mov %ecx, %eax
    shr $11, %eax               /* bits 32+ of the address */
    mov %eax, pd+4(,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    mov %cr4, %eax
    or $0x620, %eax             /* PAE, OSFXSR, OSXMMEXCPT */
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx       /* EFER.LME */
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax        /* PG, PE */
    and $~0x6, %eax             /* EM, MP off: SSE usable */
    mov %eax, %cr0
    ljmp $0x08, $long_entry

    .code64
long_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $stack_top, %rsp
    call main
    mov %eax, %edi
    call exit_qemu
1:  hlt
    jmp 1b

/*
 * An AP, from ap_tramp: protected mode, paging off, on the kernel's GDT.
 * Long mode with the BSP's CR0, CR4 and EFER (smp_start() saved them)
 * and the same page tables.
 */
    .code32
ap_entry32:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov ap_cr4, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx
    mov ap_efer, %eax
    xor %edx, %edx
    wrmsr
    mov ap_cr0, %eax
    mov %eax, %cr0
    ljmp $0x08, $ap_long

    .code64
ap_long:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $1, %eax
    lock xadd %eax, ap_next         /* this CPU's number */
    cmp $SMP_MAX_CPUS, %eax
    jae 1f
    mov %eax, %edi
    imul $AP_STACK_SIZE, %rax
    lea ap_stacks(%rax), %rsp
    call ap_main
1:  cli                             /* one CPU too many: park it */
    hlt
    jmp 1b

/*
 * Vectors 32 to 255: the APs' wake-up IPI (or a spurious interrupt).
 * EOI to the local APIC, in x2APIC mode by MSR, else by MMIO.
 */
    .globl irq_stub
irq_stub:
    push %rax
    push %rcx
    push %rdx
    mov $0x1b, %ecx                 /* IA32_APIC_BASE */
    rdmsr
    test $0x400, %eax
    jnz 1f
    and $0xfffff000, %eax
    movl $0, 0xb0(%rax)
    jmp 2f
1:  mov $0x80b, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
2:  pop %rdx
    pop %rcx
    pop %rax
    iretq

/*
 * uint64_t compat_pconfig(uint32_t eax, uint32_t ebx, uint16_t ds)
 * Run PCONFIG in compatibility mode with DS = @ds; the flags before are
 * compat_flags_in, after are compat_flags_out.
 */
    .globl compat_pconfig
compat_pconfig:
    push %rbx
    push %rbp
    mov %rsp, %rbp
    mov %edi, %eax
    mov %esi, %ebx
    mov %edx, %ecx
    pushq $0x18
    pushq $compat_code
    lretq
    .code32
compat_code:
    mov %ecx, %ds
    pushl compat_flags_in
    popfl
1:  .byte 0x0f, 0x01, 0xc5
2:  pushfl
    mov $0x10, %ecx
    mov %ecx, %ds
    popl compat_flags_out
    ljmp $0x08, $compat_back
    .pushsection .extable, "a"
    .quad 1b, 2b
    .popsection
    .code64
compat_back:
    mov %rbp, %rsp
    pop %rbp
    pop %rbx
    ret

/*
 * void user_pconfig(void): run PCONFIG at CPL 3.  The exception handler
 * returns to user_back at CPL 0 (see lib.c); the vector is in last_exc.
 */
    .globl user_pconfig
user_pconfig:
    push %rbx
    push %rbp
    mov %rsp, kernel_rsp
    mov $user_stack_top, %rax
    pushq $0x2b
    push %rax
    pushfq
    pushq $0x23
    pushq $user_code
    xor %eax, %eax
    iretq
user_code:
1:  .byte 0x0f, 0x01, 0xc5
2:  hlt                         /* #GP at CPL 3: PCONFIG did not fault */
    .pushsection .extable, "a"
    .quad 1b, user_back
    .quad 2b, user_back
    .popsection
    .globl user_back
user_back:
    mov kernel_rsp, %rsp
    pop %rbp
    pop %rbx
    ret

/* Exception entry: push a zero error code where the CPU pushes none */
.macro vec n
vec_\n:
    .if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    pushq $0
    .endif
    pushq $\n
    jmp exc_common
.endm

.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    vec \n
.endr

exc_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    call exc_handler
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq

    .section .rodata
    .globl exc_vectors
    .align 8
exc_vectors:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad vec_\n
.endr

/*
 * The AP trampoline, copied to a page below 1 MiB; the SIPI starts it at
 * CS:IP = page >> 4 : 0.  Real mode to protected mode on the kernel's GDT.
 */
    .globl ap_tramp, ap_tramp_end
    .code16
ap_tramp:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl ap_tramp_gdt - ap_tramp
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x18, $ap_entry32
    .align 8
ap_tramp_gdt:
    .word gdt_end - gdt - 1
    .long gdt
ap_tramp_end:
    .code64

    .data
    .align 16
    .globl gdt
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff    /* 0x10: data, DPL 0 */
    .quad 0x00cf9a000000ffff    /* 0x18: 32-bit code, DPL 0 */
    .quad 0x00affa000000ffff    /* 0x20: 64-bit code, DPL 3 */
    .quad 0x00cff2000000ffff    /* 0x28: data, DPL 3 */
    .quad 0x00009a000000ffff    /* 0x30: 16-bit code, DPL 0 */
    .quad 0x000092000000ffff    /* 0x38: 16-bit data, DPL 0 */
    .quad 0, 0                  /* 0x40: 64-bit TSS, filled at run time */
    .quad 0                     /* 0x50: 32-bit TSS, for virtual-8086 mode */
    .skip 16 * (SMP_MAX_CPUS - 1)   /* 0x58: 64-bit TSS of AP 1, 2, ... */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .quad gdt

    .globl start_info_paddr
start_info_paddr:
    .long 0
    .globl compat_flags_in, compat_flags_out, kernel_rsp
compat_flags_in:
    .long 0x2
compat_flags_out:
    .long 0
kernel_rsp:
    .quad 0
    .globl ap_cr0, ap_cr4, ap_efer, ap_next
ap_cr0:
    .long 0
ap_cr4:
    .long 0
ap_efer:
    .long 0
ap_next:
    .long 1

    .bss
    .align 4096
    .globl pml4, pdpt, pd
pml4:
    .skip 4096
pdpt:
    .skip 4096
pd:
    .skip 4 * 4096
    .skip 65536
stack_top:
    .skip 16384
    .globl user_stack_top
user_stack_top:
    .skip 16384
    .globl exc_stack_top
exc_stack_top:
    .align 16
ap_stacks:                      /* AP n's stack ends at ap_stacks + n * size */
    .skip AP_STACK_SIZE * (SMP_MAX_CPUS - 1)

    .section .note.GNU-stack, "", @progbits
