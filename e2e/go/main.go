// s3go: a small aws-sdk-go-v2 client for the Floodgate client matrix (e2e/gateway-clients.test.ts).
// Every command prints one JSON line on success and exits non-zero with the error on stderr.
// Endpoint and credentials come from AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
//
//	s3go mb BUCKET | rb BUCKET
//	s3go put FILE BUCKET KEY       (manager.Uploader: multipart above 8 MiB)
//	s3go get BUCKET KEY FILE       (manager.Downloader)
//	s3go ls BUCKET [PREFIX]        ({"keys":[...]} from ListObjectsV2, paginated)
//	s3go rm BUCKET KEY
//	s3go rm-recursive BUCKET PREFIX (DeleteObjects in batches of 1000)
//	s3go sync-up DIR BUCKET PREFIX (uploads files missing or of another size; {"uploaded":n})
//	s3go sync-down BUCKET PREFIX DIR
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	if len(os.Args) < 3 {
		fail(fmt.Errorf("usage: s3go COMMAND ARGS (see the comment at the top of main.go)"))
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		fail(err)
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	out, err := run(ctx, c, os.Args[1], os.Args[2:])
	if err != nil {
		fail(err)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "s3go:", err)
	os.Exit(1)
}

func arg(a []string, n int) error {
	if len(a) != n {
		return fmt.Errorf("expected %d arguments, got %d", n, len(a))
	}
	return nil
}

func run(ctx context.Context, c *s3.Client, cmd string, a []string) (any, error) {
	switch cmd {
	case "mb":
		if err := arg(a, 1); err != nil {
			return nil, err
		}
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &a[0]})
		return map[string]string{"bucket": a[0]}, err
	case "rb":
		if err := arg(a, 1); err != nil {
			return nil, err
		}
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &a[0]})
		return map[string]string{"bucket": a[0]}, err
	case "put":
		if err := arg(a, 3); err != nil {
			return nil, err
		}
		return map[string]string{"key": a[2]}, put(ctx, c, a[0], a[1], a[2])
	case "get":
		if err := arg(a, 3); err != nil {
			return nil, err
		}
		return map[string]string{"key": a[1]}, get(ctx, c, a[0], a[1], a[2])
	case "ls":
		prefix := ""
		if len(a) > 1 {
			prefix = a[1]
		}
		keys, err := list(ctx, c, a[0], prefix)
		return map[string]any{"keys": keys}, err
	case "rm":
		if err := arg(a, 2); err != nil {
			return nil, err
		}
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &a[0], Key: &a[1]})
		return map[string]string{"key": a[1]}, err
	case "rm-recursive":
		if err := arg(a, 2); err != nil {
			return nil, err
		}
		n, err := rmRecursive(ctx, c, a[0], a[1])
		return map[string]int{"deleted": n}, err
	case "sync-up":
		if err := arg(a, 3); err != nil {
			return nil, err
		}
		n, err := syncUp(ctx, c, a[0], a[1], a[2])
		return map[string]int{"uploaded": n}, err
	case "sync-down":
		if err := arg(a, 3); err != nil {
			return nil, err
		}
		n, err := syncDown(ctx, c, a[0], a[1], a[2])
		return map[string]int{"downloaded": n}, err
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

func put(ctx context.Context, c *s3.Client, file, bucket, key string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = manager.NewUploader(c).Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: f})
	return err
}

func get(ctx context.Context, c *s3.Client, bucket, key, file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = manager.NewDownloader(c).Download(ctx, f, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	return err
}

type object struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
}

func list(ctx context.Context, c *s3.Client, bucket, prefix string) ([]object, error) {
	out := []object{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out = append(out, object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size)})
		}
	}
	return out, nil
}

func rmRecursive(ctx context.Context, c *s3.Client, bucket, prefix string) (int, error) {
	objs, err := list(ctx, c, bucket, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := 0; i < len(objs); i += 1000 {
		batch := []types.ObjectIdentifier{}
		for _, o := range objs[i:min(i+1000, len(objs))] {
			batch = append(batch, types.ObjectIdentifier{Key: aws.String(o.Key)})
		}
		r, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: batch}})
		if err != nil {
			return n, err
		}
		if len(r.Errors) > 0 {
			return n, fmt.Errorf("DeleteObjects: %s: %s", aws.ToString(r.Errors[0].Key), aws.ToString(r.Errors[0].Code))
		}
		n += len(r.Deleted)
	}
	return n, nil
}

func syncUp(ctx context.Context, c *s3.Client, dir, bucket, prefix string) (int, error) {
	remote, err := list(ctx, c, bucket, prefix)
	if err != nil {
		return 0, err
	}
	sizes := map[string]int64{}
	for _, o := range remote {
		sizes[o.Key] = o.Size
	}
	n := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		key := prefix + filepath.ToSlash(rel)
		if size, ok := sizes[key]; ok && size == info.Size() {
			return nil
		}
		n++
		return put(ctx, c, path, bucket, key)
	})
	return n, err
}

func syncDown(ctx context.Context, c *s3.Client, bucket, prefix, dir string) (int, error) {
	objs, err := list(ctx, c, bucket, prefix)
	if err != nil {
		return 0, err
	}
	for _, o := range objs {
		if err := get(ctx, c, bucket, o.Key, filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(o.Key, prefix)))); err != nil {
			return 0, err
		}
	}
	return len(objs), nil
}
