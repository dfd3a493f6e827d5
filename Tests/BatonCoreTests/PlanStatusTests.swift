import BatonTestSupport
import Testing
@testable import BatonCore

@Suite struct PlanStatusTests {
    @Test func terminalStatusesAllowNoMove() {
        for status in PlanStatus.terminal {
            #expect(status.allowedNextStatuses.isEmpty, "\(status)")
            for next in PlanStatus.allCases { #expect(!status.canMove(to: next)) }
        }
        #expect(Set(PlanStatus.terminal) == [.succeeded, .failed, .timedOut, .canceled])
    }

    @Test func waitingPlansCanOnlyRunOrBeCanceled() {
        #expect(PlanStatus.scheduled.allowedNextStatuses == [.queued, .canceled])
        #expect(PlanStatus.queued.allowedNextStatuses == [.running, .canceled])
    }

    @Test func runningPlansEndOrGoBack() {
        #expect(PlanStatus.running.allowedNextStatuses == [.succeeded, .failed, .timedOut, .canceled, .queued, .scheduled])
        #expect(!PlanStatus.running.canMove(to: .running))
    }

    @Test func rawValuesAreTheAPISpelling() {
        #expect(PlanStatus.allCases.map(\.rawValue) == ["scheduled", "queued", "running", "succeeded", "failed", "timed_out", "canceled"])
    }
}
