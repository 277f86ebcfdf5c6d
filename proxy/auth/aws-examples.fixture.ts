// Credentials and clock of the AWS SigV4 documentation examples ("examplebucket", 2013-05-24),
// shared by the auth tests.
export const EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
export const EXAMPLE_NOW = new Date('2013-05-24T00:00:00Z');
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const lookupExample = (id: string): string | undefined => (id === EXAMPLE.accessKeyId ? EXAMPLE.secretAccessKey : undefined);
