// demo4.cpp，本程序演示了Linux底层文件的操作-读取文件。
// sockfd: the tutorial's demo4, unchanged.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
int main()
{
  int fd = -1;    // 定义一个文件描述符/文件句柄。
  char buffer[1024] = {0};  
  //打开文件。
  fd=open("data.txt",O_RDONLY); 
  if (fd==-1)
  {
    perror("open(data.txt)"); return -1;
  }
  printf("文件描述符fd=%d\n",fd);
  memset(buffer,0,sizeof(buffer));
  //从文件中读取数据。
  if (read(fd,buffer,sizeof(buffer))==-1)   
  {
    perror("write()"); return -1;
  }
  printf("%s",buffer);
  //关闭文件。
  close(fd); 
}
