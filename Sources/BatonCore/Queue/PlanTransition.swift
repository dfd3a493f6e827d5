/// One change of a stored plan, as ``QueueRules`` decide it: the row it was decided on, the row
/// to write, and the event to append.
///
/// A store writes `plan` over the row only while the row still is `from` — the same id, status,
/// owner and attempt — and appends `event` in the same transaction. When the guard matches no
/// row, the store says why (``PlanStoreError/Code/attemptNotHeld``, or
/// ``PlanStoreError/Code/planNotFound``) and writes nothing.
public struct PlanTransition: Sendable, Hashable {
    /// The plan as the rules read it.
    public let from: Plan
    /// The plan as it is to be stored.
    public let plan: Plan
    /// The history entry of the change.
    public let event: PlanEvent.Draft
}
