/*
 * Bare-metal test kernel: run PCONFIG in 32-bit protected mode, real mode
 * and virtual-8086 mode, then return to long mode
 *
 * Copyright (c) 2026 The QEMU TME/MKTME authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * void legacy_pconfig(void): the caller first copies the blob
 * [legacy_blob, legacy_blob_end) to LEGACY_BASE and fills its variables
 * (lg_mode, lg_eax, lg_ebx, lg_ds, lg_flags_in) through LEGACY_VAR().
 * Paging is switched off while away from long mode, so everything runs
 * on physical addresses: the blob and its stack sit below 64 KiB for
 * real mode and virtual-8086 mode.
 */

#define LEGACY_BASE     0x7000
#define BLOB(x)         (LEGACY_BASE + (x) - legacy_blob)
#define LEGACY_STACK    0x6ff0

    .text
    .code64
    .globl legacy_pconfig
legacy_pconfig:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, saved_rsp
    sidt saved_idt
    pushq $0x18
    pushq $pm32_entry
    lretq

    .code32
pm32_entry:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov $LEGACY_STACK, %esp
    mov %cr0, %eax                  /* leave long mode: paging off */
    and $0x7fffffff, %eax
    mov %eax, %cr0
    lidt idt32_desc
    movl BLOB(lg_mode), %eax
    cmp $1, %eax
    je to_real
    cmp $2, %eax
    je to_vm86

    /* 32-bit protected mode */
    movl $1, in_pm32
    pushl BLOB(lg_flags_in)
    popfl
    movl BLOB(lg_eax), %eax
    movl BLOB(lg_ebx), %ebx
    movl BLOB(lg_ds), %ecx
    mov %ecx, %ds
    .globl pm32_insn
pm32_insn:
    .byte 0x0f, 0x01, 0xc5
    .globl pm32_fixup
pm32_fixup:
    pushfl
    mov $0x10, %ecx
    mov %ecx, %ds
    popl BLOB(lg_flags_out)
    movl %eax, BLOB(lg_eax_out)
    movl $0, in_pm32
    jmp to_long

to_real:
    ljmp $0x30, $BLOB(real16)

to_vm86:
    /* A 32-bit TSS for the way back to ring 0 */
    movl $LEGACY_STACK, tss32 + 4
    movl $0x10, tss32 + 8
    movl $tss32, %eax
    movw %ax, gdt + 0x50 + 2
    shr $16, %eax
    movb %al, gdt + 0x50 + 4
    movb %ah, gdt + 0x50 + 7
    movw $103, gdt + 0x50
    movb $0x89, gdt + 0x50 + 5
    mov $0x50, %eax
    ltr %ax
    mov %esp, vm86_esp
    pushl $0                        /* GS, FS, DS, ES */
    pushl $0
    pushl $0
    pushl $0
    pushl $0                        /* SS */
    pushl $LEGACY_STACK - 0x100     /* ESP */
    pushl $0x20002                  /* EFLAGS: VM, IOPL 0 */
    pushl $0                        /* CS */
    pushl $BLOB(vm86_code)          /* EIP */
    iretl

/* 32-bit exception handlers: vector in lg_vector, error code in lg_error */
.macro exc32 n, err
exc32_\n:
    .if \err == 0
    pushl $0
    .endif
    pushl $\n
    jmp exc32_common
.endm
    exc32 6, 0
    exc32 13, 1
    exc32 14, 1
    exc32 0, 0
exc32_common:
    push %eax
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov 4(%esp), %eax
    movl %eax, BLOB(lg_vector)
    mov 8(%esp), %eax
    movl %eax, BLOB(lg_error)
    pop %eax
    add $8, %esp
    cmpl $0, in_pm32
    je 1f
    /* From 32-bit protected mode: resume after PCONFIG */
    movl $pm32_fixup, (%esp)
    iretl
1:  /* From virtual-8086 mode: abandon it */
    mov vm86_esp, %esp
    jmp to_long

to_long:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %cr0, %eax                  /* EFER.LME is still set */
    or $0x80000000, %eax
    mov %eax, %cr0
    ljmp $0x08, $long_back

    .code64
long_back:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov saved_rsp, %rsp
    lidt saved_idt
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret

/*
 * The blob: 16-bit code and its variables, copied to LEGACY_BASE.  Only
 * constant expressions through BLOB() refer to it.
 */
    .section .rodata
    .globl legacy_blob, legacy_blob_end
    .code16
legacy_blob:
real16:                             /* 16-bit protected mode, CS 0x30 */
    mov $0x38, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr0, %eax
    and $~1, %eax
    mov %eax, %cr0
    ljmp $0, $BLOB(real_mode)
real_mode:
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $LEGACY_STACK, %sp
    lidt BLOB(ivt_desc)
    movw $BLOB(real_exc6), 6 * 4
    movw $0, 6 * 4 + 2
    movw $BLOB(real_exc13), 13 * 4
    movw $0, 13 * 4 + 2
    pushl BLOB(lg_flags_in)
    popfl
    movl BLOB(lg_eax), %eax
    movl BLOB(lg_ebx), %ebx
    movw BLOB(lg_ds), %cx
    mov %cx, %ds
real_insn:
    .byte 0x0f, 0x01, 0xc5
real_fixup:
    pushfl
    xor %cx, %cx
    mov %cx, %ds
    popl BLOB(lg_flags_out)
    movl %eax, BLOB(lg_eax_out)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x18, $to_long

/* Real-mode exceptions push FLAGS, CS, IP and no error code */
real_exc6:
    movl $6, %cs:BLOB(lg_vector)
    jmp real_exc
real_exc13:
    movl $13, %cs:BLOB(lg_vector)
real_exc:
    mov %sp, %bp
    movw $BLOB(real_fixup), (%bp)
    iret

vm86_code:
    .byte 0x0f, 0x01, 0xc5          /* #UD in virtual-8086 mode */
    hlt                             /* #GP: PCONFIG did not fault */

    .align 4
ivt_desc:
    .word 0x3ff
    .long 0
    .globl lg_mode, lg_eax, lg_ebx, lg_ds, lg_flags_in, lg_flags_out
    .globl lg_eax_out, lg_vector, lg_error
lg_mode:        .long 0
lg_eax:         .long 0
lg_ebx:         .long 0
lg_ds:          .long 0
lg_flags_in:    .long 2
lg_flags_out:   .long 0
lg_eax_out:     .long 0
lg_vector:      .long -1
lg_error:       .long 0
legacy_blob_end:
    .code64

    .data
    .align 8
saved_rsp:      .quad 0
saved_idt:      .word 0
                .quad 0
vm86_esp:       .long 0
in_pm32:        .long 0
    .align 8
    .globl idt32
idt32:
    .quad 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
idt32_end:
idt32_desc:
    .word idt32_end - idt32 - 1
    .long idt32
    .align 16
tss32:
    .skip 104
    .globl exc32_table
exc32_table:
    .long exc32_0, exc32_6, exc32_13, exc32_14

    .section .note.GNU-stack, "", @progbits
