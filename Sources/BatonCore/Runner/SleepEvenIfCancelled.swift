/// Sleeps for `duration` even when the calling task is cancelled.
///
/// `Task.sleep` returns at once in a cancelled task, so a polling loop built on it spins during
/// shutdown, exactly when the processes it waits for need the CPU to exit. Waits that must
/// really wait (for a child to exit, for a grace period to run out) use this instead; the
/// sleep runs in a task of its own, which does not inherit the cancellation.
func sleepEvenIfCancelled(for duration: Duration) async {
    await Task { try? await Task.sleep(for: duration) }.value
}
