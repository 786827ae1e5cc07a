/*
 * What a probe clone reports (pyshim._core's in-process clone tests).  The
 * landing pad in probe.S stores every register it arrives with at its stack
 * pointer, so the parent puts this struct exactly at the child's stack top;
 * the offsets are checked against the struct in clone_probe.c.
 */
#ifndef PYSHIM_PROBE_H
#define PYSHIM_PROBE_H

#define PROBE_RAX 0
#define PROBE_RBX 8
#define PROBE_RCX 16
#define PROBE_RDX 24
#define PROBE_RSI 32
#define PROBE_RDI 40
#define PROBE_RBP 48
#define PROBE_RSP 56
#define PROBE_R8 64
#define PROBE_R9 72
#define PROBE_R10 80
#define PROBE_R11 88
#define PROBE_R12 96
#define PROBE_R13 104
#define PROBE_R14 112
#define PROBE_R15 120
#define PROBE_MXCSR 128
#define PROBE_XMM0 144
#define PROBE_LANDED 160

#endif
