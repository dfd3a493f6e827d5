import BatonCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error answer in `application/problem+json` (RFC 9457): what went wrong and what to fix.
struct Problem: Error, Sendable {
    let status: HTTPResponse.Status
    let title: String
    let detail: String
    /// For validation errors: each field and what is wrong with it.
    let issues: [PlanValidationError.Issue]
    /// Extra headers (`WWW-Authenticate` on a 401).
    let headers: HTTPFields

    /// At most this many issues are listed; the detail says how many there were.
    static let maxIssues = 100

    init(_ status: HTTPResponse.Status, _ title: String, detail: String, issues: [PlanValidationError.Issue] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.title = title
        self.detail = issues.count > Self.maxIssues ? detail + " (the first \(Self.maxIssues) of \(issues.count) are listed)" : detail
        self.issues = Array(issues.prefix(Self.maxIssues))
        self.headers = headers
    }

    var json: String {
        var json = JSONWriter()
        json.string("type", "about:blank")
        json.string("title", title)
        json.int("status", status.code)
        json.string("detail", detail)
        if !issues.isEmpty {
            json.array("errors", issues.map { issue in
                var item = JSONWriter()
                item.string("field", issue.field)
                item.string("message", issue.message)
                return item.finished
            })
        }
        return json.finished
    }

    var response: Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
    }
}

extension Problem {
    /// The problem an error stands for. Errors that are not the client's doing are `500` with
    /// nothing of their inside shown.
    init(_ error: any Error) {
        switch error {
        case let problem as Problem:
            self = problem
        case let validation as PlanValidationError:
            self.init(.unprocessableContent, "Unprocessable Content", detail: "the request has fields that break a rule; see errors", issues: validation.issues)
        case let syntax as RawJSON.SyntaxError:
            self.init(.badRequest, "Malformed JSON", detail: "\(syntax); send one well-formed JSON document")
        case let store as PlanStoreError:
            switch store.code {
            case .planNotFound: self.init(.notFound, "Plan not found", detail: store.message)
            case .invalidTransition, .attemptNotHeld, .retryRefused: self.init(.conflict, "Conflict", detail: store.message)
            case .databaseBusy: self.init(.serviceUnavailable, "Busy", detail: store.message)
            case .databaseUnavailable: self.init(.serviceUnavailable, "Database unavailable", detail: "the queue's database cannot be reached; retry shortly (GET /api/v1/health says when it is back)")
            default: self.init(.internalServerError, "Internal error", detail: "the server could not complete the request; its log says why")
            }
        case let cluster as ClusterError:
            self.init(.notFound, "Node not found", detail: cluster.message)
        case let orchestrator as OrchestratorError:
            self.init(orchestrator.code == .generationFailed ? .internalServerError : .serviceUnavailable, "Orchestrator unavailable", detail: orchestrator.message)
        case is NIOTooManyBytesError:
            self.init(.contentTooLarge, "Body too large", detail: "the request body is larger than the server accepts (--max-body-bytes)")
        case let http as HTTPError:
            switch http.status {
            case .notFound: self.init(.notFound, "Not found", detail: http.body ?? "no such resource; the API is described in docs/openapi.yaml")
            case .contentTooLarge: self.init(.contentTooLarge, "Body too large", detail: http.body ?? "the request body is larger than the server accepts (--max-body-bytes)")
            default: self.init(http.status, http.status.reasonPhrase, detail: http.body ?? http.status.reasonPhrase)
            }
        default:
            self.init(.internalServerError, "Internal error", detail: "the server could not complete the request; its log says why")
        }
    }
}

/// Turns every error, unknown routes and wrong methods included, into a problem+json answer.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowedMethods: AllowedMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && context.endpointPath == "NotFound" {
            guard let methods = allowedMethods.methods(for: request.uri.path) else {
                return Problem(.notFound, "Not found", detail: "no route \(request.method) \(request.uri.path); the API is described in docs/ and README.md").response
            }
            var response = Problem(.methodNotAllowed, "Method not allowed",
                                   detail: "\(request.uri.path) answers \(methods.sorted().joined(separator: ", ")), not \(request.method)").response
            response.headers[.allow] = methods.sorted().joined(separator: ", ")
            return response
        } catch {
            let problem = Problem(error)
            if problem.status.code >= 500 {
                context.logger.error("request failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            }
            return problem.response
        }
    }
}
