extension Array {
    /// `init(unsafeUninitializedCapacity:initializingWith:)`, but with no capacity the initializer is given an
    /// empty buffer and the array is `[]`: initializing the standard library's shared empty array in place
    /// writes its count, a data race with any thread that reads an empty array meanwhile.
    init(filling capacity: Int, _ initializer: (UnsafeMutableBufferPointer<Element>, inout Int) throws -> Void) rethrows {
        guard capacity > 0 else {
            var count = 0
            try initializer(UnsafeMutableBufferPointer(start: nil, count: 0), &count)
            self = []
            return
        }
        try self.init(unsafeUninitializedCapacity: capacity) { buffer, initialized in try initializer(buffer, &initialized) }
    }
}
