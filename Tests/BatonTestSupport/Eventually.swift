/// Polls `condition` until it holds or `deadline` passes: a safety limit for something that
/// happens in its own time, never a timing test.
public func eventually(
    within deadline: Duration = .seconds(30), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let end = ContinuousClock.now + deadline
    while ContinuousClock.now < end {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
