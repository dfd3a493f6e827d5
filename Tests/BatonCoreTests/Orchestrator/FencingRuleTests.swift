@testable import BatonCore
import Foundation
import Testing

/// When a node stops runs it cannot renew, on plain values, over the settings `baton serve`
/// allows: a lease from 3 seconds to a day, heartbeats from 0.1 s to a third of the lease.
@Suite struct FencingRuleTests {
    static let settings: [(lease: Double, interval: Double)] = [3, 4.5, 10, 60, 600, 86_400].flatMap { lease in
        [0.1, lease / 6, lease / 3].map { (lease: lease, interval: $0) }
    }

    func rule(_ setting: (lease: Double, interval: Double)) -> FencingRule {
        FencingRule(lease: .milliseconds(Int64(setting.lease * 1000)), interval: .milliseconds(Int64(setting.interval * 1000)))
    }

    @Test func theDefaultsFenceWithTwentyOneSecondsLeftOfASixtySecondLease() {
        let rule = FencingRule(lease: .seconds(60), interval: .seconds(10))
        let now = Date(timeIntervalSince1970: 1_000)
        #expect(rule.renewalTimeout == .seconds(5))
        #expect(rule.margin == .seconds(6))
        #expect(!rule.mustFence(heldUntil: now.addingTimeInterval(21.5), now: now))
        #expect(rule.mustFence(heldUntil: now.addingTimeInterval(21), now: now))
        #expect(rule.mustFence(heldUntil: now.addingTimeInterval(-1), now: now), "a lease already run out")
    }

    @Test func theMarginIsATenthOfTheLeaseAndAtLeastASecond() {
        #expect(FencingRule(lease: .seconds(3), interval: .seconds(1)).margin == .seconds(1))
        #expect(FencingRule(lease: .seconds(600), interval: .seconds(100)).margin == .seconds(60))
    }

    @Test(arguments: settings)
    func aLeaseJustRenewedIsNeverFenced(setting: (lease: Double, interval: Double)) {
        let now = Date(timeIntervalSince1970: 1_000)
        #expect(!rule(setting).mustFence(heldUntil: now.addingTimeInterval(setting.lease), now: now))
    }

    /// Whatever the phase of the keeper's looks against the last renewal, and with each look as
    /// late as a renewal that never answers makes it, the first look that fences still has the
    /// margin left before the lease runs out.
    @Test(arguments: settings)
    func aRunThatCannotRenewIsFencedWithTheMarginLeft(setting: (lease: Double, interval: Double)) {
        let rule = rule(setting)
        let renewedAt = Date(timeIntervalSince1970: 1_000)
        let heldUntil = renewedAt.addingTimeInterval(setting.lease)
        let step = (rule.interval + rule.renewalTimeout).timeInterval
        // Looks long before the lease's end all look alike; start a few steps before the last ones.
        let firstLook = max(renewedAt, heldUntil.addingTimeInterval(-10 * step - rule.margin.timeInterval))
        for phase in stride(from: 0.0, to: setting.interval, by: setting.interval / 7) {
            var look = firstLook.addingTimeInterval(phase)
            while !rule.mustFence(heldUntil: heldUntil, now: look) {
                look = look.addingTimeInterval(step)
            }
            #expect(heldUntil.timeIntervalSince(look) >= rule.margin.timeInterval - 1e-6,
                    "lease \(setting.lease) s, heartbeat \(setting.interval) s, phase \(phase) s")
        }
    }
}
