#ifndef BATON_PROCESS_H
#define BATON_PROCESS_H

#include <sys/resource.h>
#include <sys/types.h>
#if defined(__linux__)
// getxattr/setxattr, for the POSIX ACLs that open a workspace to the plan user.
#include <sys/xattr.h>
#endif

/// Whether child `pid` has exited, without reaping it: 1 (exited), 0 (still running), or -1
/// (errno says why). On exit, `usage` holds its resource usage (including the children it waited
/// for) and `has_usage` is 1 where the system can tell (Linux).
///
/// glibc's waitid() hides the kernel's fifth argument, the rusage of the child, so on Linux this
/// calls the system call itself, with WNOWAIT: the zombie stays for its real owner to reap.
int baton_peek_exit(pid_t pid, struct rusage *usage, int *has_usage);

#endif
