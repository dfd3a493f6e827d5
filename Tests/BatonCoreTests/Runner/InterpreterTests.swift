import Foundation
import BatonTestSupport
import Testing
@testable import BatonCore

@Suite struct InterpreterTests {
    @Test func python3OnThePathResolvesToTheRealExecutable() async throws {
        let interpreter = try await PythonInterpreter.resolve()
        #expect(interpreter.path.hasPrefix("/"))
        #expect(!interpreter.path.contains("shims"), "version-manager shims are resolved away")
        #expect(interpreter.versionNumbers.count == 3)
        #expect(!interpreter.versionNumbers.lexicographicallyPrecedes([3, 9]))
        #expect(interpreter.version == interpreter.versionNumbers.map(String.init).joined(separator: "."))
        let again = try await PythonInterpreter.resolve(requested: interpreter.path)
        #expect(again == interpreter)
    }

    @Test func aMissingInterpreterSaysWhatToDo() async throws {
        let empty = try TemporaryDirectory()
        await #expect {
            try await PythonInterpreter.resolve(searchPath: empty.path)
        } throws: { error in
            "\(error)".contains("no python3 found on PATH") && "\(error)".contains("--python")
        }
        await #expect {
            try await PythonInterpreter.resolve(requested: "/nonexistent/bin/python3")
        } throws: { error in
            "\(error)".contains("/nonexistent/bin/python3") && "\(error)".contains("--python")
        }
    }

    @Test func aTooOldInterpreterIsRefusedWithItsVersion() async throws {
        let directory = try TemporaryDirectory()
        let fake = directory.file("python3")
        try """
            #!/bin/sh
            echo '{"executable": "\(fake)", "version": [3, 8, 10]}'

            """.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        await #expect {
            try await PythonInterpreter.resolve(searchPath: directory.path)
        } throws: { error in
            "\(error)".contains("found Python 3.8.10") && "\(error)".contains("3.9 or newer")
        }
    }

    @Test func anInterpreterThatHangsIsGivenUpOn() async throws {
        let directory = try TemporaryDirectory()
        let fake = directory.file("python3")
        try "#!/bin/sh\nexec sleep 600\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        await #expect {
            try await PythonInterpreter.resolve(searchPath: directory.path, timeout: .milliseconds(500))
        } throws: { error in
            "\(error)".contains("did not answer")
        }
    }

    @Test func somethingThatIsNotPythonIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let fake = directory.file("python3")
        try "#!/bin/sh\necho hello\n".write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        await #expect(throws: PythonInterpreterError.self) { try await PythonInterpreter.resolve(searchPath: directory.path) }
        try "#!/bin/sh\nexit 7\n".write(toFile: fake, atomically: true, encoding: .utf8)
        await #expect(throws: PythonInterpreterError.self) { try await PythonInterpreter.resolve(searchPath: directory.path) }
    }
}
