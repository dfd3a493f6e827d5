import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

@Suite struct PlanSpecValidationTests {
    /// One broken rule: how to break it, the field the error must name, and words of the rule.
    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let field: String
        let rule: String
        let breakIt: @Sendable (inout PlanSpec) -> Void
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "empty name", field: "name", rule: "must not be empty") { $0.name = "" },
        Case(label: "long name", field: "name", rule: "at most 200") { $0.name = String(repeating: "n", count: 201) },
        Case(label: "control character in name", field: "name", rule: "control characters") { $0.name = "run\u{7}" },
        Case(label: "empty script", field: "script", rule: "must not be empty") { $0.entryPoint = .script("") },
        Case(label: "absolute script", field: "script", rule: "relative to the workspace root") { $0.entryPoint = .script("/etc/x.py") },
        Case(label: "escaping script", field: "script", rule: "no `..`") { $0.entryPoint = .script("tests/../../x.py") },
        Case(label: "not a .py script", field: "script", rule: ".py") { $0.entryPoint = .script("tests/run.sh") },
        Case(label: "newline in script", field: "script", rule: "control characters") { $0.entryPoint = .script("a\nb.py") },
        Case(label: "bad module", field: "module", rule: "dotted Python module name") { $0.entryPoint = .module("tests..smoke") },
        Case(label: "module with dash", field: "module", rule: "dotted Python module name") { $0.entryPoint = .module("my-tests") },
        Case(label: "blank code", field: "code", rule: "must not be empty") { $0.entryPoint = .code("  \n") },
        Case(label: "NUL in code", field: "code", rule: "NUL") { $0.entryPoint = .code("print(1)\0") },
        Case(label: "NUL in arg", field: "args[1]", rule: "NUL") { $0.args = ["ok", "b\0d"] },
        Case(label: "too many args", field: "args", rule: "at most 256") { $0.args = Array(repeating: "a", count: 257) },
        Case(label: "priority below 0", field: "priority", rule: "between 0 (most urgent) and 9") { $0.priority = -1 },
        Case(label: "priority above 9", field: "priority", rule: "got 10") { $0.priority = 10 },
        Case(label: "zero timeout", field: "timeout_seconds", rule: "greater than 0") { $0.timeoutSeconds = 0 },
        Case(label: "timeout above max", field: "timeout_seconds", rule: "at most 3600") { $0.timeoutSeconds = 3601 },
        Case(label: "zero attempts", field: "max_attempts", rule: "between 1 and 100") { $0.maxAttempts = 0 },
        Case(label: "bad env name", field: "env.1BAD", rule: "[A-Za-z_][A-Za-z0-9_]*") { $0.env = ["1BAD": "x"] },
        Case(label: "reserved env name", field: "env.BATON_PLAN_ID", rule: "reserved") { $0.env = ["BATON_PLAN_ID": "7"] },
        Case(label: "reserved env name in lower case", field: "env.baton_x", rule: "reserved") { $0.env = ["baton_x": "7"] },
        Case(label: "NUL in env value", field: "env.TOKEN", rule: "NUL") { $0.env = ["TOKEN": "a\0b"] },
        Case(label: "bad label key", field: "labels.ci job", rule: "A-Z a-z 0-9 _ . -") { $0.labels = ["ci job": "1"] },
        Case(label: "long label key", field: "labels." + String(repeating: "k", count: 65), rule: "1 to 64") { $0.labels = [String(repeating: "k", count: 65): "1"] },
        Case(label: "long label value", field: "labels.branch", rule: "at most 256") { $0.labels = ["branch": String(repeating: "v", count: 257)] },
        Case(label: "too many labels", field: "labels", rule: "at most 32") { spec in
            spec.labels = Dictionary(uniqueKeysWithValues: (0..<33).map { ("k\($0)", "v") })
        },
        Case(label: "empty idempotency key", field: "idempotency_key", rule: "1 to 200") { $0.idempotencyKey = "" },
        Case(label: "long idempotency key", field: "idempotency_key", rule: "1 to 200") { $0.idempotencyKey = String(repeating: "k", count: 201) },
        Case(label: "empty trigger", field: "triggered_by", rule: "must not be empty") { $0.triggeredBy = "" },
    ]

    @Test(arguments: cases)
    func eachRuleNamesItsFieldAndRule(_ testCase: Case) {
        var broken = spec()
        testCase.breakIt(&broken)
        #expect {
            try broken.validate(limits: PlanLimits())
        } throws: { error in
            guard let error = error as? PlanValidationError else { return false }
            return error.issues.contains { $0.field == testCase.field && $0.message.contains(testCase.rule) }
        }
    }

    @Test func everyBrokenRuleIsReportedAtOnce() throws {
        var broken = spec()
        broken.priority = 12
        broken.maxAttempts = 0
        broken.env = ["BATON_TOKEN": "x"]
        let error = try #require(throws: PlanValidationError.self) { try broken.validate(limits: PlanLimits()) }
        #expect(Set(error.issues.map(\.field)) == ["priority", "max_attempts", "env.BATON_TOKEN"])
    }

    @Test func theServerMaximumTimeoutIsApplied() throws {
        let limits = PlanLimits(defaultTimeoutSeconds: 10, maxTimeoutSeconds: 30)
        try spec { $0.timeoutSeconds = 30 }.validate(limits: limits)
        let error = try #require(throws: PlanValidationError.self) { try spec { $0.timeoutSeconds = 31 }.validate(limits: limits) }
        #expect(error.issues.first?.message.contains("--max-timeout") == true)
    }

    @Test func validSpecsPass() throws {
        let limits = PlanLimits()
        try spec().validate(limits: limits)
        try PlanSpec(entryPoint: .module("tests.smoke_suite"), priority: 0).validate(limits: limits)
        try PlanSpec(entryPoint: .code("print('hi')"), priority: 9, timeoutSeconds: 3600, maxAttempts: 100,
                     env: ["API_KEY": "secret", "_X1": ""], labels: ["ci.job-id_2": "", "branch": "main"],
                     idempotencyKey: "ci-123").validate(limits: limits)
    }

    @Test func inputMustBeOneJSONValue() throws {
        #expect(throws: JSONTextError.self) { try JSONText(validating: "{\"a\": ") }
        #expect(throws: JSONTextError.self) { try JSONText(validating: "") }
        #expect(try JSONText(validating: "[1, 2.50, {\"b\": null}]").text == "[1, 2.50, {\"b\": null}]")
        #expect(try JSONText(validating: "123").text == "123")
    }
}
