// The little of a C library that baton-confine uses, made of system calls.
//
// baton-confine links no C library: glibc's start-up alone (probing the CPU's features and
// caches with CPUID, which traps on a virtual machine, then resolving its string functions)
// costs about a millisecond of CPU per process here, and every plan starts one. So the launcher
// brings its own entry point, system call stubs, string helpers and error messages, and builds
// on the kernel's own headers for its types and constants.

#ifndef BATON_CONFINE_RUNTIME_H
#define BATON_CONFINE_RUNTIME_H

#include <asm/unistd.h>
#include <linux/capability.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/mount.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/sched.h>
#include <linux/stat.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef int pid_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef unsigned int mode_t;

/// The error of the last failed call, as `errno` in C (under a name of its own, apart from the
/// C library's, which the linker may bring in unused).
extern int confine_errno;
#define errno confine_errno

/// Calls system call `number`; -1 with `errno` set when it fails.
long system_call(long number, long a, long b, long c, long d, long e, long f);

// The calls baton-confine makes, named and behaving as their C library counterparts.
int open_file(const char *path, int flags, mode_t mode);
int close(int descriptor);
long write(int descriptor, const void *bytes, size_t count);
int make_directory(const char *path, mode_t mode);
int change_mode(const char *path, mode_t mode);
int make_symlink(const char *target, const char *path);
bool exists(const char *path);
/// The file type bits (S_IFMT) of `path` or of `descriptor`; -1 when it cannot be examined.
int file_type(const char *path);
int descriptor_type(int descriptor);
int change_directory(const char *path);
int mount(const char *source, const char *target, const char *type, unsigned long flags, const void *data);
int open_tree(int directory, const char *path, unsigned int flags);
int move_mount(int from_directory, const char *from_path, int to_directory, const char *to_path, unsigned int flags);
int mount_setattr(int directory, const char *path, unsigned int flags, struct mount_attr *attributes, size_t size);
int prctl(int option, unsigned long a, unsigned long b, unsigned long c, unsigned long d);
int set_open_file_limit(unsigned long count);
int set_groups_none(void);
int setresgid(gid_t real, gid_t effective, gid_t saved);
int setresuid(uid_t real, uid_t effective, uid_t saved);
int drop_all_capabilities(void);
uid_t geteuid(void);
gid_t getegid(void);
/// fork(2), into new `namespaces` (CLONE_NEW*) when not 0.
pid_t fork_into(unsigned long namespaces);
pid_t wait_for(pid_t process, int *status);
int execute(const char *path, char *const arguments[]);
/// Sets the disposition of `signal` to SIG_IGN (`ignore`) or SIG_DFL.
int set_signal_ignored(int signal, bool ignore);
int bring_loopback_up(void);
__attribute__((noreturn)) void exit_now(int status);

enum { SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGTERM = 15 };

#define EXITED(status) (((status) & 0x7f) == 0)
#define EXIT_CODE(status) (((status) >> 8) & 0xff)
#define TERMINATING_SIGNAL(status) ((status) & 0x7f)

// Strings.
size_t strlen(const char *text);
int strcmp(const char *a, const char *b);
char *strchr(const char *text, int character);
void *memset(void *destination, int value, size_t count);
void *memcpy(void *destination, const void *source, size_t count);
/// `text` as a number in `base` within [minimum, maximum]; -1 when it is not one.
long long parse_number(const char *text, int base, long long minimum, long long maximum);
/// Formats into `buffer` (always terminated) with %s, %d, %o and a zero-padded width (%04o);
/// the length the whole text would have.
int format(char *buffer, size_t size, const char *pattern, ...);
int format_list(char *buffer, size_t size, const char *pattern, va_list arguments);
/// The name and meaning of error `number`, for messages.
const char *error_text(int number);
/// Writes `text` to stderr.
void say(const char *text);
/// Says `baton-confine: <pattern, formatted>: <errno's meaning>` on stderr; returns -1 with
/// `errno` unchanged.
int fail(const char *pattern, ...);

#endif
