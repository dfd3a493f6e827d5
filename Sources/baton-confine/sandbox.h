// The sandbox baton-confine builds around a plan: namespaces, mounts and an unprivileged
// identity, set up by this process itself rather than by a chain of helper programs, because
// every exec on a plan's way to Python is paid again by every plan.

#ifndef BATON_CONFINE_SANDBOX_H
#define BATON_CONFINE_SANDBOX_H

#include "runtime.h"

/// One mount over the read-only view of the host, applied in the order given: a later mount
/// covers an earlier one.
struct mount_step {
    enum {
        /// An empty tmpfs with `mode`.
        MOUNT_TMPFS,
        /// A directory made with `mode` (on a tmpfs laid before).
        MOUNT_DIRECTORY,
        /// `path` of the host at the same place, writable.
        MOUNT_BIND,
        /// `path` of the host at the same place, read-only.
        MOUNT_READ_ONLY,
        /// A device node that cannot be opened, over the file `path`.
        MOUNT_BLANK,
    } kind;
    const char *path;
    mode_t mode;
    /// The detached copy of what a bind shows, taken before anything covers its source.
    int tree;
};

/// What the plan gets.
struct sandbox {
    struct mount_step *steps;
    int step_count;
    /// Network namespace of its own, with only a loopback interface.
    bool no_network;
    /// Become this user and group (the server is root); otherwise the plan keeps the server's
    /// identity inside a user namespace.
    bool switch_user;
    uid_t uid;
    gid_t gid;
    /// The plan's working directory.
    const char *directory;
};

/// Runs `command` in the sandbox and returns the exit status to leave with: the command's own,
/// 128 + the signal that ended it, 125 when the sandbox cannot be set up (with a line on
/// stderr), 127 when the command cannot be run.
int sandbox_run(struct sandbox *sandbox, char **command);

#endif
